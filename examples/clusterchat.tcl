# clusterchat.tcl --
#
#	A chat served by two processes that act as one through Redis: a
#	line typed by a client of either node reaches the clients of both.
#
#	    tclsh clusterchat.tcl ?redis://host:port?
#
#	Without a URL it starts its own Redis (Debian's redis-server, on a
#	free port of 127.0.0.1, nothing saved). Then it starts the two nodes
#	(this script again: "tclsh clusterchat.tcl node URL NAME"), each
#	listening on a free port of 127.0.0.1, prints how to reach them, and
#	stops them all when it ends (Ctrl-C, or end of its standard input).
#	make demo-cluster runs it with the package of the build tree.

package require Tcl 8.6

# A node: a line chat on a free port, in the cluster "clusterchat".
proc runNode {url name} {
    package require multiplexer
    set mp [multiplexer::create]
    ${mp}::Config framing line
    ${mp}::AddFilter [list apply {{name data chan addr port} {
	return "$name/$chan> $data"
    }} $name]
    ${mp}::Init 0 -myaddr 127.0.0.1
    ${mp}::Cluster join $url -channel clusterchat -node $name
    puts "node $name: nc 127.0.0.1 [${mp}::Port]"
    flush stdout
    # End with the parent: it holds our standard input.
    fileevent stdin readable [list apply {{} {
	if {[gets stdin line] < 0 && [eof stdin]} {exit 0}
    }}]
    vwait forever
}

# A free TCP port of 127.0.0.1 (the kernel's choice, released at once).
proc freePort {} {
    set s [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $s -sockname] 2]
    close $s
    return $port
}

# Starts redis-server on a free port; returns {pipe url}.
proc startRedis {} {
    if {[auto_execok redis-server] eq ""} {
	puts stderr "clusterchat: redis-server not found (Debian: apt-get\
		install redis-server), or give a redis:// URL"
	exit 1
    }
    set port [freePort]
    set pipe [open |[list redis-server --port $port --bind 127.0.0.1 \
	    --save "" --appendonly no 2>@1] r]
    fconfigure $pipe -blocking 0
    fileevent $pipe readable [list apply {{pipe} {
	read $pipe
	if {[eof $pipe]} {close $pipe}
    }} $pipe]
    # Ready when it answers PING (bounded: 5 s).
    set until [expr {[clock milliseconds] + 5000}]
    while {[clock milliseconds] < $until} {
	if {![catch {socket 127.0.0.1 $port} s]} {
	    fconfigure $s -translation binary -buffering none
	    puts -nonewline $s "PING\r\n"
	    set reply [gets $s]
	    close $s
	    if {[string match +PONG* $reply]} {
		return [list $pipe redis://127.0.0.1:$port]
	    }
	}
	after 50
    }
    puts stderr "clusterchat: redis-server did not start on port $port"
    exit 1
}

if {[lindex $argv 0] eq "node"} {
    runNode [lindex $argv 1] [lindex $argv 2]
    return
}

set children {}
if {[llength $argv] > 0} {
    set url [lindex $argv 0]
} else {
    lassign [startRedis] redis url
    lappend children $redis
    puts "redis: $url (started for this demo)"
}
foreach name {east west} {
    set p [open |[list [info nameofexecutable] [info script] node $url \
	    $name 2>@stderr] r+]
    fconfigure $p -buffering line -blocking 0
    fileevent $p readable [list apply {{p} {
	while {[gets $p line] >= 0} {puts $line}
	if {[eof $p]} {close $p}
    }} $p]
    lappend children $p
}
puts "type a line in one nc session: it shows in the other; Ctrl-C ends"

proc stopAll {} {
    foreach p $::children {
	foreach pid [pid $p] {catch {exec kill $pid}}
	catch {close $p}
    }
    exit 0
}
fileevent stdin readable {
    if {[gets stdin line] < 0 && [eof stdin]} {stopAll}
}
vwait forever
