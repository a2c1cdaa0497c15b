# wsraw.tcl --
#
#	Helpers shared by websocket.test and wsprotocol.test: a WebSocket
#	client on a plain Tcl socket (request heads, masked frames written
#	by hand, the server's frames parsed), and the driving of the
#	real-client scripts wsclient.py (python3-websockets) and wsclient.js
#	(Node's ws) through pipes. Sourced after common.tcl.

namespace eval ::wst {
    variable dir [file dirname [file normalize [info script]]]
    variable events			;# pipe -> list of event lines
    variable pipes {}
    array set events {}
    # The example key of RFC 6455 section 1.3 and its answer.
    variable key dGhlIHNhbXBsZSBub25jZQ==
    variable accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

# Subprocesses run without the sanitizer runtime that make test-asan
# preloads into tclsh (python3 and node are not built for it).
proc ::wst::envcmd {} {
    list env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS \
	    -u LSAN_OPTIONS NODE_PATH=/usr/share/nodejs
}

testConstraint pywebsockets [expr {[file executable /usr/bin/python3]
    && ![catch {exec {*}[::wst::envcmd] /usr/bin/python3 -c \
	    {import websockets, sys; sys.exit(0 if websockets.version.version >= "10" else 1)}}]}]
testConstraint nodews [expr {[file executable /usr/bin/node]
    && ![catch {exec {*}[::wst::envcmd] /usr/bin/node -e {require('ws')}}]}]

# wst::hex, wst::unhex --
#	Payload encoding of the client scripts' line protocol.

proc ::wst::hex {bytes} {
    if {$bytes eq ""} {
	return -
    }
    binary encode hex $bytes
}

proc ::wst::unhex {h} {
    if {$h eq "-"} {
	return ""
    }
    binary decode hex $h
}

# wst::spawn --
#	Starts a client script (kind py or js) on url offering the given
#	subprotocols. Its event lines accumulate in wst::events($pipe).
#	Returns the pipe.

proc ::wst::spawn {kind url args} {
    variable dir
    variable events
    variable pipes
    if {$kind eq "py"} {
	set cmd [list /usr/bin/python3 -u [file join $dir wsclient.py]]
    } else {
	set cmd [list /usr/bin/node [file join $dir wsclient.js]]
    }
    set p [open |[list {*}[envcmd] {*}$cmd $url {*}$args 2>@1] r+]
    fconfigure $p -buffering line -blocking 0 -translation lf
    set events($p) {}
    lappend pipes $p
    fileevent $p readable [list ::wst::PipeReadable $p]
    return $p
}

proc ::wst::PipeReadable {p} {
    variable events
    while {[gets $p line] >= 0} {
	lappend events($p) $line
    }
    if {[eof $p]} {
	fileevent $p readable {}
	lappend events($p) eof
    }
}

# wst::cmd --
#	Sends one command line to a client script.

proc ::wst::cmd {p line} {
    catch {puts $p $line; flush $p}
}

# wst::event --
#	Waits (at most ms) for an event line of a client script matching the
#	glob pattern; returns the first such line, or "" on timeout.

proc ::wst::event {p pattern {ms 5000}} {
    variable events
    if {![mptest::wait {[lsearch -glob $::wst::events($p) $pattern] >= 0} $ms]} {
	return ""
    }
    lindex $events($p) [lsearch -glob $events($p) $pattern]
}

# wst::messages --
#	The messages a client script has received so far, as a list of
#	{text|binary payload}, payload decoded.

proc ::wst::messages {p} {
    variable events
    set out {}
    foreach e $events($p) {
	if {[lindex $e 0] in {text binary}} {
	    lappend out [list [lindex $e 0] [unhex [lindex $e 1]]]
	}
    }
    return $out
}

# wst::closeOf --
#	Waits for a client script's close event; returns {code reason}.

proc ::wst::closeOf {p {ms 5000}} {
    set e [event $p {close *} $ms]
    if {$e eq ""} {
	return timeout
    }
    list [lindex $e 1] [encoding convertfrom utf-8 [unhex [lindex $e 2]]]
}

# wst::killAll --
#	Ends every client script started by this file.

proc ::wst::killAll {} {
    variable pipes
    variable events
    foreach p $pipes {
	foreach pid [pid $p] {
	    catch {exec kill -9 $pid}
	}
	catch {fconfigure $p -blocking 0}
	catch {close $p}
    }
    set pipes {}
    array unset events
    array set events {}
}

# wst::server --
#	An instance with a TCP listener (${mp}::Port) and a WebSocket
#	listener with the given options (its port in wst::wsport), and a
#	TCP client, wst::tcp, admitted: the bystander that each test checks
#	is undisturbed. Returns the instance.

proc ::wst::server {args} {
    variable wsport
    variable tcp
    set mp [mptest::server]
    set l [${mp}::Init 0 -myaddr 127.0.0.1 -protocol websocket {*}$args]
    set wsport [lindex [fconfigure $l -sockname] 2]
    set tcp [mptest::connect [${mp}::Port]]
    mptest::admitted $mp 1
    return $mp
}

# wst::url --
#	The ws:// URL of the instance's WebSocket listener.

proc ::wst::url {{path /}} {
    variable wsport
    return ws://127.0.0.1:$wsport$path
}

# wst::bystander --
#	Whether the TCP bystander still receives a broadcast: 1 or 0.

proc ::wst::bystander {mp} {
    variable tcp
    set tag "still-here-[incr ::wst::tagCount]"
    if {[catch {${mp}::Broadcast $tag}]} {
	return 0
    }
    mptest::wait {[string first $tag [mptest::received $::wst::tcp]] >= 0}
}

# wst::request --
#	An upgrade request head for path (the RFC's example key) with the
#	given extra field lines (a list of "Name: value").

proc ::wst::request {{path /} {extra {}} {method GET}} {
    variable key
    set h "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    append h "Connection: Upgrade\r\nSec-WebSocket-Key: $key\r\n"
    append h "Sec-WebSocket-Version: 13\r\n"
    foreach line $extra {
	append h $line\r\n
    }
    append h \r\n
}

# wst::ask --
#	Connects to the WebSocket listener and sends bytes (a request head).
#	Returns the socket (its input in mptest's buffers).

proc ::wst::ask {bytes} {
    variable wsport
    set s [mptest::connect $wsport]
    mptest::send $s $bytes
    return $s
}

# wst::answer --
#	Waits for the head of the server's answer on s; returns it (without
#	the empty line), or "" on timeout.

proc ::wst::answer {s {ms 5000}} {
    if {![mptest::wait {[string first \r\n\r\n [mptest::received $s]] >= 0
	    || [mptest::gotEof $s]} $ms]} {
	return ""
    }
    set buf [mptest::received $s]
    set end [string first \r\n\r\n $buf]
    if {$end < 0} {
	return ""
    }
    string range $buf 0 [expr {$end - 1}]
}

# wst::status --
#	The status code of an answer head.

proc ::wst::status {head} {
    lindex [split $head " "] 1
}

# wst::field --
#	The value of a header field (name in any case) of an answer head.

proc ::wst::field {head name} {
    foreach line [lrange [split $head \n] 1 end] {
	set line [string trimright $line \r]
	set i [string first : $line]
	if {$i > 0 && [string equal -nocase [string range $line 0 $i-1] $name]} {
	    return [string trim [string range $line $i+1 end]]
	}
    }
    return ""
}

# wst::body --
#	What follows the answer head on s.

proc ::wst::body {s} {
    set buf [mptest::received $s]
    string range $buf [expr {[string first \r\n\r\n $buf] + 4}] end
}

# wst::connect --
#	A raw WebSocket client: connects, upgrades (path, extra field lines),
#	and returns the socket once the 101 has arrived ("" otherwise).

proc ::wst::connect {{path /} {extra {}}} {
    set s [ask [request $path $extra]]
    if {[status [answer $s]] ne "101"} {
	return ""
    }
    return $s
}

# wst::frame --
#	A client frame: opcode, payload (bytes), options -fin 0|1, -mask
#	0|1, -rsv bits (0..7).

proc ::wst::frame {opcode payload args} {
    set o [dict merge {-fin 1 -mask 1 -rsv 0} $args]
    set b0 [expr {([dict get $o -fin] << 7) | ([dict get $o -rsv] << 4)
	    | $opcode}]
    set m [expr {[dict get $o -mask] ? 0x80 : 0}]
    set n [string length $payload]
    set f [binary format c $b0]
    if {$n < 126} {
	append f [binary format c [expr {$m | $n}]]
    } elseif {$n < 65536} {
	append f [binary format cS [expr {$m | 126}] $n]
    } else {
	append f [binary format cW [expr {$m | 127}] $n]
    }
    if {$m} {
	set key {0x37 0xfa 0x21 0x3d}
	append f [binary format c4 $key]
	set out ""
	set i 0
	foreach byte [split $payload ""] {
	    scan $byte %c v
	    append out [format %c [expr {$v ^ ([lindex $key [expr {$i % 4}]] & 0xff)}]]
	    incr i
	}
	append f $out
    } else {
	append f $payload
    }
    return $f
}

# wst::closeFrame --
#	A client close frame with a status code (or none) and reason bytes.

proc ::wst::closeFrame {{code {}} {reason ""}} {
    if {$code eq ""} {
	return [frame 8 ""]
    }
    frame 8 [binary format S $code]$reason
}

# wst::frames --
#	The complete frames the server has sent on s after the answer head,
#	as a list of {fin opcode masked payload}.

proc ::wst::frames {s} {
    set buf [body $s]
    set out {}
    set pos 0
    set len [string length $buf]
    while {$pos + 2 <= $len} {
	binary scan $buf @${pos}cucu b0 b1
	set fin [expr {$b0 >> 7}]
	set op [expr {$b0 & 0x0f}]
	set masked [expr {$b1 >> 7}]
	set n [expr {$b1 & 0x7f}]
	set p [expr {$pos + 2}]
	if {$n == 126} {
	    if {$p + 2 > $len} break
	    binary scan $buf @${p}Su n
	    incr p 2
	} elseif {$n == 127} {
	    if {$p + 8 > $len} break
	    binary scan $buf @${p}Wu n
	    incr p 8
	}
	if {$masked} {
	    incr p 4
	}
	if {$p + $n > $len} break
	lappend out [list $fin $op $masked [string range $buf $p [expr {$p + $n - 1}]]]
	set pos [expr {$p + $n}]
    }
    return $out
}

# wst::waitFrames --
#	Waits until s has at least n frames after its head; returns them.

proc ::wst::waitFrames {s n {ms 5000}} {
    mptest::wait {[llength [::wst::frames $s]] >= $n} $ms
    frames $s
}

# wst::serverClose --
#	Waits for the server's close frame on s, then for the end of the
#	connection. Returns {code eof}: the frame's status code ("none"
#	without a code, "noframe" when no close frame arrived; "masked" for
#	a masked frame), and 1 if the server ended TCP within ms.

proc ::wst::serverClose {s {ms 5000}} {
    mptest::wait {[lsearch -index 1 [::wst::frames $s] 8] >= 0
	    || [mptest::gotEof $s]} $ms
    set f [lsearch -inline -index 1 [frames $s] 8]
    if {$f eq ""} {
	set code noframe
    } elseif {[lindex $f 2]} {
	set code masked
    } elseif {[string length [lindex $f 3]] >= 2} {
	binary scan [lindex $f 3] Su code
    } else {
	set code none
    }
    list $code [mptest::wait {[mptest::gotEof $s]} $ms]
}

# wst::closeReason --
#	The reason text of the server's close frame on s.

proc ::wst::closeReason {s} {
    set f [lsearch -inline -index 1 [frames $s] 8]
    encoding convertfrom utf-8 [string range [lindex $f 3] 2 end]
}

# wst::exits, wst::recordExit --
#	An exit filter recording {chan reason}.

proc ::wst::recordExit {mp chan addr port} {
    variable exits
    lappend exits [list $chan [${mp}::Reason $chan]]
}

proc ::wst::reset {} {
    variable exits {}
    variable seen {}
}

# wst::recordData --
#	A data filter recording each message it sees and passing it on.

proc ::wst::recordData {data chan addr port} {
    variable seen
    lappend seen $data
    return $data
}

# wst::stat --
#	One counter of the instance's Stats.

proc ::wst::stat {mp name} {
    dict get [${mp}::Stats] $name
}

# wst::cleanup --
#	Ends client scripts, sockets and instances.

proc ::wst::cleanup {} {
    killAll
    mptest::cleanup
    reset
}

::wst::reset
