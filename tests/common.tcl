# common.tcl --
#
#	Helpers shared by the test files: loading the package under test,
#	real client sockets on 127.0.0.1, and waits that always end.
#	Sourced by every .test file; safe to source more than once.

package require tcltest 2.2
namespace import -force ::tcltest::*

if {[info exists ::env(MP_BUILD_DIR)]
	&& [lsearch -exact $::auto_path $::env(MP_BUILD_DIR)] < 0} {
    set ::auto_path [linsert $::auto_path 0 $::env(MP_BUILD_DIR)]
}
package require multiplexer 0.4

# Platform constraints shared by the test files.
testConstraint linux [expr {$::tcl_platform(os) eq "Linux"}]

# Tests that look at the package's logging need tcllib's logger (without
# it the package writes its messages to stderr instead).
testConstraint logger [expr {![catch {package require logger}]}]

namespace eval ::mptest {
    variable buffers
    variable eofs
    array set buffers {}
    array set eofs {}
}

# mptest::wait --
#	Runs the event loop until the expression is true or ms elapse.
#	Returns 1 if the condition became true, 0 on timeout.

proc ::mptest::wait {cond {ms 3000}} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {![uplevel 1 [list expr $cond]]} {
	if {[clock milliseconds] >= $deadline} {
	    return 0
	}
	set id [after 5 [list set ::mptest::tick 1]]
	vwait ::mptest::tick
	after cancel $id
    }
    return 1
}

# mptest::pause --
#	Serves events for ms milliseconds.

proc ::mptest::pause {ms} {
    after $ms [list set ::mptest::paused 1]
    vwait ::mptest::paused
}

# mptest::steadyQueue --
#	Serves events until the server-side channel's queue (fconfigure
#	-queued) has kept one value for three samples 100 ms apart, so that
#	the kernel has stopped taking its bytes, or until ms elapse.
#	Returns the queue's length.

proc ::mptest::steadyQueue {chan {ms 5000}} {
    set deadline [expr {[clock milliseconds] + $ms}]
    set last [fconfigure $chan -queued]
    set same 0
    while {$same < 3 && [clock milliseconds] < $deadline} {
	pause 100
	set q [fconfigure $chan -queued]
	if {$q == $last} {
	    incr same
	} else {
	    set same 0
	    set last $q
	}
    }
    return $last
}

# mptest::chanOf --
#	The server-side channel of a client socket (matched on its local
#	port), or "" if the instance has no such client.

proc ::mptest::chanOf {mp sock} {
    set port [lindex [fconfigure $sock -sockname] 2]
    lindex [lsearch -inline -index 2 [${mp}::Clients] $port] 0
}

# mptest::connect --
#	Opens a binary, non-blocking client socket to 127.0.0.1:port whose
#	input accumulates in ::mptest::buffers($sock); EOF sets
#	::mptest::eofs($sock). Returns the socket.

proc ::mptest::connect {port} {
    variable buffers
    variable eofs
    set s [socket 127.0.0.1 $port]
    fconfigure $s -translation binary -blocking 0 -buffering none
    set buffers($s) ""
    set eofs($s) 0
    fileevent $s readable [list ::mptest::Readable $s]
    return $s
}

proc ::mptest::Readable {s} {
    variable buffers
    variable eofs
    if {[catch {read $s} data]} {
	set eofs($s) 1
	fileevent $s readable {}
	return
    }
    append buffers($s) $data
    if {[eof $s]} {
	set eofs($s) 1
	fileevent $s readable {}
    }
}

# mptest::received --
#	What a client socket has received so far.

proc ::mptest::received {s} {
    variable buffers
    return $buffers($s)
}

# mptest::reset --
#	Forgets what a client socket received.

proc ::mptest::reset {s} {
    variable buffers
    set buffers($s) ""
}

# mptest::gotEof --
#	Whether the server closed a client socket.

proc ::mptest::gotEof {s} {
    variable eofs
    return $eofs($s)
}

# mptest::send --
#	Writes bytes to a client socket.

proc ::mptest::send {s data} {
    puts -nonewline $s $data
    flush $s
}

# mptest::close --
#	Closes a client socket (ignoring errors) and forgets its state.

proc ::mptest::close {s} {
    variable buffers
    variable eofs
    catch {::close $s}
    unset -nocomplain buffers($s) eofs($s)
}

# mptest::server --
#	Creates an instance listening on 127.0.0.1, port 0. Returns it.

proc ::mptest::server {args} {
    set mp [::multiplexer::create]
    ${mp}::Init 0 -myaddr 127.0.0.1 {*}$args
    return $mp
}

# mptest::admitted --
#	Waits until the instance has n admitted clients.

proc ::mptest::admitted {mp n {ms 3000}} {
    wait {[llength [${mp}::Clients]] == $n} $ms
}

# mptest::cleanup --
#	Destroys every instance and closes every client socket.

proc ::mptest::cleanup {} {
    variable buffers
    foreach s [array names buffers] {
	::mptest::close $s
    }
    foreach ns [namespace children ::multiplexer] {
	catch {${ns}::destroy}
    }
}
