# clusternode.tcl --
#
#	One node of the cluster tests (tests/cluster.test, started by
#	cnode::spawn in tests/helpers/redis.tcl): loads the package under
#	test, creates an instance with Init 0 -myaddr 127.0.0.1 (plus the
#	options given as the one argument), prints "@PORT N" and then
#	evaluates the scripts its standard input brings, one a line:
#
#	    SEQ ESCAPED-SCRIPT		(a Tcl list of two elements)
#
#	answering each with one line
#
#	    @R SEQ CODE ESCAPED-RESULT ESCAPED-ERRORCODE
#
#	(backslash, newline and carriage return escaped as \\, \n, \r). The
#	scripts run at global level, where $mp is the instance. The end of
#	standard input (the test process went away) ends the node; so does a
#	watchdog after 10 minutes.
#
#	Helpers for the scripts:
#	    chanOfPort PORT	the instance's channel for the client whose
#				own port is PORT ("" if none)
#	    record ...		an output filter that notes every call in
#				::seen as {data from to} and passes data on
#	    flood N SIZE TAG	N Broadcasts of TAG-NUMBER-xxx (SIZE bytes)
#	    cl::open		a client of the node's own listener, opened
#				in this process (for nodes in network
#				namespaces, which the test process cannot
#				reach); cl::send ID DATA, cl::lines ID,
#				cl::reset ID, cl::wait ID N MS
#	    waitUntil EXPR MS	serves events until EXPR holds (bounded)
#	    quit ?CODE?		closes the clients of this process, exits
#	    rawPing HOST PORT MS  PING to a Redis server on a socket of this
#				process (reachability from a namespace)

if {[info exists ::env(MP_BUILD_DIR)]
	&& [lsearch -exact $::auto_path $::env(MP_BUILD_DIR)] < 0} {
    set ::auto_path [linsert $::auto_path 0 $::env(MP_BUILD_DIR)]
}
package require multiplexer

set initArgs [lindex $argv 0]
set mp [multiplexer::create]
${mp}::Init 0 -myaddr 127.0.0.1 {*}$initArgs

proc esc {s} {
    string map [list \\ \\\\ \n \\n \r \\r] $s
}

proc unesc {s} {
    string map [list \\\\ \\ \\n \n \\r \r] $s
}

proc reply {seq code result ecode} {
    puts stdout [list @R $seq $code [esc $result] [esc $ecode]]
    flush stdout
}

proc command {} {
    if {[gets stdin line] < 0} {
	if {[eof stdin]} {
	    quit 0
	}
	return
    }
    if {![string is list $line] || [llength $line] != 2} {
	return
    }
    lassign $line seq script
    set code [catch {uplevel #0 [unesc $script]} result opts]
    if {$code == 2 && [dict get $opts -level] == 1} {
	# A script that ends with return -code X.
	set code [dict get $opts -code]
    }
    set ecode ""
    if {$code == 1} {
	set ecode [dict get $opts -errorcode]
    }
    reply $seq $code $result $ecode
}

proc waitUntil {expr ms} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {![uplevel #0 [list expr $expr]]} {
	if {[clock milliseconds] >= $deadline} {
	    return 0
	}
	after 5 {set ::tick 1}
	vwait ::tick
    }
    return 1
}

proc chanOfPort {port} {
    foreach c [${::mp}::Clients] {
	if {[lindex $c 2] == $port} {
	    return [lindex $c 0]
	}
    }
    return ""
}

set ::seen {}
proc record {data from to addr port} {
    lappend ::seen [list $data $from $to]
    return $data
}

proc flood {n size tag} {
    for {set i 0} {$i < $n} {incr i} {
	set head $tag-$i-
	${::mp}::Broadcast $head[string repeat x \
		[expr {max(0, $size - [string length $head])}]]
    }
    return $n
}

# rawPing --
#	Connects to a Redis server at host:port and sends PING. Returns
#	the reply line (+PONG), or "timeout" / "error: ..." within ms.

proc rawPing {host port ms} {
    set ::pingState ""
    set ::pingData ""
    if {[catch {socket -async $host $port} s]} {
	return "error: $s"
    }
    fconfigure $s -blocking 0 -translation binary -buffering none
    fileevent $s readable [list apply {{s} {
	if {[catch {read $s} d]} {
	    set ::pingState "error: $d"
	    fileevent $s readable {}
	    return
	}
	append ::pingData $d
	if {[string first \r\n $::pingData] >= 0} {
	    set ::pingState [string trim $::pingData]
	} elseif {[eof $s]} {
	    set ::pingState "error: eof"
	}
    }} $s]
    catch {puts -nonewline $s "PING\r\n"}
    set ok [waitUntil {$::pingState ne ""} $ms]
    catch {close $s}
    if {!$ok} {
	return timeout
    }
    return $::pingState
}

namespace eval cl {
    variable n 0
    variable buf
    variable sock
    array set buf {}
    array set sock {}
}

proc cl::open {} {
    variable n
    variable buf
    variable sock
    set id [incr n]
    set s [socket 127.0.0.1 [${::mp}::Port]]
    fconfigure $s -blocking 0 -translation binary -buffering none
    set sock($id) $s
    set buf($id) ""
    fileevent $s readable [list cl::Read $id]
    return $id
}

proc cl::Read {id} {
    variable buf
    variable sock
    if {[catch {read $sock($id)} d]} {
	fileevent $sock($id) readable {}
	return
    }
    append buf($id) $d
    if {[eof $sock($id)]} {
	fileevent $sock($id) readable {}
    }
}

proc cl::send {id data} {
    variable sock
    puts -nonewline $sock($id) $data
    flush $sock($id)
}

proc cl::port {id} {
    variable sock
    lindex [fconfigure $sock($id) -sockname] 2
}

proc cl::lines {id} {
    variable buf
    set l [split $buf($id) \n]
    if {[lindex $l end] eq ""} {
	set l [lrange $l 0 end-1]
    }
    return $l
}

proc cl::reset {id} {
    variable buf
    set buf($id) ""
}

proc cl::wait {id n ms} {
    waitUntil "\[llength \[cl::lines $id\]\] >= $n" $ms
}

# quit --
#	Closes this process's own clients (so that the instance's orderly
#	close of them at exit does not wait for the linger time), then exits.

proc quit {{code 0}} {
    foreach id [array names cl::sock] {
	catch {close $cl::sock($id)}
    }
    exit $code
}

fconfigure stdin -blocking 0 -buffering line -translation lf
fconfigure stdout -translation lf
fileevent stdin readable command
after 600000 {quit 3}
puts stdout "@PORT [${mp}::Port]"
flush stdout
vwait forever
