# netns.tcl --
#
#	Network namespaces for the cluster tests: a private network of its
#	own for each test, so that a link can be cut without touching the
#	machine's. Sourced after common.tcl and redis.tcl.
#
#	Layout made by netns::setup N:
#	    SW          a namespace holding the bridge br0 (the "switch")
#	    M0..M(N-1)  one namespace per member, each with lo up and eth0,
#	                the end of a veth pair whose other end (p0, p1 ...)
#	                is a port of br0 in SW; eth0 of Mi has 10.231.7.(i+1)/24
#	The addresses exist inside these namespaces only: the machine's own
#	namespace gets no address, no route and no interface. Namespace
#	names carry the test process's pid and a counter, so that runs side
#	by side never share one.
#
#	netns::cut I / netns::restore I set member I's switch port down and
#	up (a cable pulled at the switch: the member sees silence, not an
#	error). netns::teardown kills every process left in the namespaces
#	(SIGKILL) and deletes them.
#
#	All ip commands run through `env -u LD_PRELOAD` (see redis.tcl).

namespace eval ::netns {
    variable made {}		;# Namespaces made and not yet deleted.
    variable counter 0
    variable sw ""
    variable members {}
}

# netns::ip --
#	Runs ip with the given words; returns its output.

proc ::netns::ip {args} {
    exec {*}[::redist::envcmd] ip {*}$args 2>@1
}

# netns::probe --
#	Whether namespaces, a bridge and a veth pair can really be made
#	here (root, a kernel with them, the ip command): makes them and
#	deletes them again.

proc ::netns::probe {} {
    if {[auto_execok ip] eq ""} {
	return 0
    }
    set ns mpcprobe[pid]
    set ok [expr {![catch {
	ip netns add $ns
	ip -n $ns link add br0 type bridge
	ip -n $ns link add v0 type veth peer name v1
	ip -n $ns link set lo up
    }]}]
    catch {ip netns del $ns}
    return $ok
}

testConstraint netns [::netns::probe]

# netns::name --

proc ::netns::name {i} {
    variable members
    lindex $members $i
}

proc ::netns::addr {i} {
    return 10.231.7.[expr {$i + 1}]
}

# netns::setup --
#	Makes the switch namespace and n member namespaces (see above).
#	Returns the member namespaces' names. On failure whatever was made
#	is removed and an error raised.

proc ::netns::setup {n} {
    variable made
    variable counter
    variable sw
    variable members
    set base mpc[pid]x[incr counter]
    set sw ${base}sw
    set members {}
    if {[catch {
	ip netns add $sw
	lappend made $sw
	ip -n $sw link set lo up
	ip -n $sw link add br0 type bridge
	ip -n $sw link set br0 up
	for {set i 0} {$i < $n} {incr i} {
	    set ns ${base}m$i
	    ip netns add $ns
	    lappend made $ns
	    lappend members $ns
	    ip -n $ns link set lo up
	    ip -n $sw link add p$i type veth peer name eth0 netns $ns
	    ip -n $sw link set p$i master br0
	    ip -n $sw link set p$i up
	    ip -n $ns addr add [addr $i]/24 dev eth0
	    ip -n $ns link set eth0 up
	}
    } msg opts]} {
	teardown
	return -options $opts "netns::setup: $msg"
    }
    return $members
}

# netns::cut, netns::restore --
#	Member i's port of the switch down (nothing passes) or up again.

proc ::netns::cut {i} {
    variable sw
    ip -n $sw link set p$i down
}

proc ::netns::restore {i} {
    variable sw
    ip -n $sw link set p$i up
}

# netns::existing --
#	The namespaces of this process that exist now.

proc ::netns::existing {} {
    set out {}
    foreach line [split [ip netns list] \n] {
	set name [lindex $line 0]
	if {[string match mpc[pid]x* $name]} {
	    lappend out $name
	}
    }
    return $out
}

# netns::teardown --
#	Kills every process in the namespaces made (SIGKILL) and deletes
#	them. Returns the namespaces still there afterwards (none).

proc ::netns::teardown {} {
    variable made
    variable members
    variable sw
    foreach ns $made {
	if {![catch {ip netns pids $ns} pids]} {
	    foreach p $pids {
		catch {exec {*}[::redist::envcmd] kill -KILL $p}
	    }
	}
    }
    foreach ns $made {
	# A namespace whose processes are still exiting may refuse
	# deletion for a moment.
	for {set try 0} {$try < 20} {incr try} {
	    if {![catch {ip netns del $ns}]} {
		break
	    }
	    if {[lsearch -exact [existing] $ns] < 0} {
		break
	    }
	    after 50
	}
    }
    set made {}
    set members {}
    set sw ""
    return [existing]
}
