# relay_server.tcl -- what a user writes without a library: a Tcl
# `socket -server` + `fileevent` relay.
#
#   tclsh relay_server.tcl
#
# Whatever one client sends is written, as read, to every other client.
# Channels are non-blocking, unbuffered and binary, so a slow client never
# blocks the others (Tcl queues its output in memory).  Prints the port on
# stdout as its first line.

set clients [dict create]

proc accept {chan addr port} {
    fconfigure $chan -blocking 0 -buffering none -translation binary
    dict set ::clients $chan $addr
    fileevent $chan readable [list relay $chan]
}

proc relay {chan} {
    if {[catch {read $chan} data] || [eof $chan]} {
	gone $chan
	return
    }
    if {$data eq ""} {
	return
    }
    dict for {c -} $::clients {
	if {$c ne $chan && [catch {puts -nonewline $c $data}]} {
	    gone $c
	}
    }
}

proc gone {chan} {
    dict unset ::clients $chan
    catch {close $chan}
}

set listener [socket -server accept -myaddr 127.0.0.1 0]
puts [lindex [fconfigure $listener -sockname] 2]
flush stdout
vwait forever
