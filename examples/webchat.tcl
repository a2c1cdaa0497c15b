#!/usr/bin/env tclsh
# webchat.tcl -- a chat with rooms for browsers and terminals.
#
#	tclsh webchat.tcl ?webport? ?tcpport? ?address? ?certfile keyfile?
#
# One instance, two listeners: browsers load a small page from webport
# (served by -httpcommand) and talk over a WebSocket on the same port;
# terminal clients join with "nc ADDRESS TCPPORT". Everyone starts in room
# "lobby"; the line "/join NAME" moves to room NAME. A line reaches the
# others in the sender's room, labelled with the sender. Port 0 (the
# default) picks a free port; both ports are printed. With a certificate
# and its key, both listeners take TLS: browsers open https:// (and the
# page then uses wss://), terminals "openssl s_client -quiet -connect
# ADDRESS:TCPPORT".

package require multiplexer

set webport [expr {$argc > 0 ? [lindex $argv 0] : 0}]
set tcpport [expr {$argc > 1 ? [lindex $argv 1] : 0}]
set addr    [expr {$argc > 2 ? [lindex $argv 2] : "127.0.0.1"}]
set tls     {}
if {$argc > 4} {
    set tls [list -tls [list -certfile [lindex $argv 3] \
	-keyfile [lindex $argv 4]]]
}

# The page: markup, style and script in one piece.
set page {<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>webchat</title>
<style>
 body { font: 15px sans-serif; max-width: 42em; margin: 1em auto; padding: 0 1em; }
 #log { height: 20em; overflow-y: auto; border: 1px solid #bbb; padding: .5em;
        white-space: pre-wrap; }
 .note { color: #777; } .mine { color: #05a; }
 form { display: flex; gap: .5em; margin-top: .5em; } #text { flex: 1; }
</style></head>
<body><h2>webchat</h2>
<p id="status">connecting...</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" autofocus
 placeholder="a message, or /join ROOM"><button>Send</button></form>
<script>
const log = document.getElementById('log');
const text = document.getElementById('text');
const status = document.getElementById('status');
function show(line, kind) {
  const div = document.createElement('div');
  div.textContent = line;
  div.className = kind;
  log.append(div);
  log.scrollTop = log.scrollHeight;
}
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://')
  + location.host + '/ws');
ws.onopen = () => { status.textContent = 'connected'; };
ws.onclose = (e) => { status.textContent = 'disconnected (' + e.code + ')'; };
ws.onmessage = (e) => show(e.data, e.data.startsWith('*') ? 'note' : '');
document.getElementById('form').onsubmit = (e) => {
  e.preventDefault();
  if (text.value === '' || ws.readyState !== WebSocket.OPEN) return;
  ws.send(text.value);
  if (!text.value.startsWith('/')) show('me> ' + text.value, 'mine');
  text.value = '';
};
</script></body></html>
}

set mp [multiplexer::create]
${mp}::Config framing line maxmessage 4096 route groups

# Plain HTTP requests on the web port: the page at "/", nothing else.
proc serve {request} {
    if {[dict get $request path] ne "/"} {
	return [list 404 {Content-Type text/plain} "not found\n"]
    }
    list 200 {Content-Type {text/html; charset=utf-8}} \
	[encoding convertto utf-8 $::page]
}

# Newcomers get a name ("web:PORT" or "nc:PORT") and start in the lobby.
proc arrive {mp chan addr port} {
    set web [expr {[dict get [${mp}::Peer $chan] protocol] eq "websocket"}]
    set who [${mp}::Data $chan name [expr {$web ? "web" : "nc"}]:$port]
    ${mp}::Join $chan lobby
    ${mp}::Send $chan "* welcome, $who: you are in lobby (/join ROOM to move)"
    ${mp}::Broadcast "* $who joined" -group lobby -exclude $chan
    return 0
}

# "/join NAME" changes rooms; anything else goes to the room, labelled.
proc line {mp data chan addr port} {
    set who [${mp}::Data $chan name]
    if {[regexp {^/join\s+(\S+)\s*$} $data -> room]} {
	if {$room ni [${mp}::Groups $chan]} {
	    foreach old [${mp}::Groups $chan] {
		${mp}::Leave $chan $old
		${mp}::Broadcast "* $who left for $room" -group $old
	    }
	    ${mp}::Join $chan $room
	    ${mp}::Broadcast "* $who joined" -group $room -exclude $chan
	}
	${mp}::Send $chan "* you are in $room"
	return -code break
    }
    return "$who> $data"
}

# Tell the room when someone leaves.
proc depart {mp chan addr port} {
    foreach room [${mp}::Groups $chan] {
	${mp}::Broadcast "* [${mp}::Data $chan name] left" -group $room
    }
}

${mp}::AddAccessFilter [list arrive $mp]
${mp}::AddFilter [list line $mp]
${mp}::AddExitFilter [list depart $mp]
set web [${mp}::Init $webport -myaddr $addr -protocol websocket -path /ws \
	-httpcommand serve {*}$tls]
set tcp [${mp}::Init $tcpport -myaddr $addr {*}$tls]
set webport [lindex [fconfigure $web -sockname] 2]
set tcpport [lindex [fconfigure $tcp -sockname] 2]

puts "webchat listening on $addr: web port $webport, tcp port $tcpport"
if {$tls eq ""} {
    puts "open http://$addr:$webport/ in a browser;\
	    terminal clients: nc $addr $tcpport   (Ctrl-C stops the server)"
} else {
    puts "open https://$addr:$webport/ in a browser;\
	    terminal clients: openssl s_client -quiet -connect\
	    $addr:$tcpport   (Ctrl-C stops the server)"
}
flush stdout
vwait forever
