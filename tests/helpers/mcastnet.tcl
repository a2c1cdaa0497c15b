# mcastnet.tcl --
#
#	Private networks for the multicast tests across hosts
#	(tests/multicastnet.test): a network namespace per "host", joined by
#	veth pairs to bridges (the LANs) that live in one more namespace
#	(the switch). Sourced after common.tcl and redis.tcl (for
#	redist::envcmd; the node processes are redis.tcl's cnode ones).
#
#	mcn::setup {HOST LANS HOST LANS ...} makes:
#	    SW       a namespace with one bridge brL per LAN number L used,
#		     IGMP snooping off (a switch that floods multicast, as
#		     most unmanaged ones do)
#	    HOST     a namespace per host with lo up and one interface per
#		     LAN it is on: eth0 on the first, eth1 on the second...,
#		     each the end of a veth pair whose other end is a port of
#		     that LAN's bridge; the interface on LAN L of the host
#		     that is the i-th in the list (from 0) has 10.232.L.(i+1)/24
#		     and, where IPv6 is on, fd32:232:L::(i+1)/64 without
#		     duplicate address detection (usable at once: the
#		     link-local address stays tentative for a second or two,
#		     and a datagram to a group cannot be sent from it); the
#		     route for 224.0.0.0/4 goes through eth0 (IPv6 has its own
#		     ff00::/8 on every interface).
#	For example {a 1 b {1 2} c 2}: a and b on LAN 1 (10.232.1.1,
#	10.232.1.2), b and c on LAN 2 (10.232.2.2, 10.232.2.3), b with two
#	interfaces and its multicast route on LAN 1.
#
#	The addresses and routes exist inside these namespaces only: the
#	machine's own namespace gets no address, no route, no interface and
#	sees none of the datagrams. Names carry the test process's pid and
#	a counter (mcn<pid>x<n>...), so that runs side by side never share
#	one. mcn::teardown kills every process left in them (SIGKILL) and
#	deletes them (their interfaces go with them); mcn::sweep deletes
#	those of earlier runs whose process no longer exists.
#
#	External programs (ip, nft) run through `env -u LD_PRELOAD`.

namespace eval ::mcn {
    variable made {}		;# Namespaces made and not yet deleted.
    variable counter 0
    variable nsOf		;# host -> namespace
    variable addrOf		;# host,lan(,6) or host,first(,6) -> address
    variable sw ""
    variable ipv6 0		;# Whether IPv6 addresses can be given.
    array set nsOf {}
    array set addrOf {}
}

# mcn::ip --
#	Runs ip with the given words; returns its output.

proc ::mcn::ip {args} {
    exec {*}[::redist::envcmd] ip {*}$args 2>@1
}

# mcn::inNs --
#	Runs a program inside a host's namespace; returns its output.

proc ::mcn::inNs {host args} {
    variable nsOf
    exec {*}[::redist::envcmd] ip netns exec $nsOf($host) {*}$args 2>@1
}

# mcn::probe --
#	Whether namespaces, a bridge, a veth pair between two namespaces and
#	a multicast route can really be made here: makes them and deletes
#	them again. Notes in mcn::ipv6 whether IPv6 addresses can be given
#	too (not with IPv6 disabled).

proc ::mcn::probe {} {
    variable ipv6
    if {$::tcl_platform(os) ne "Linux" || [auto_execok ip] eq ""} {
	return 0
    }
    set a mcnprobe[pid]a
    set b mcnprobe[pid]b
    set ok [expr {![catch {
	ip netns add $a
	ip netns add $b
	ip -n $a link add br0 type bridge mcast_snooping 0
	ip -n $a link add v0 type veth peer name eth0 netns $b
	ip -n $a link set v0 master br0
	ip -n $b addr add 10.232.250.1/24 dev eth0
	ip -n $b link set eth0 up
	ip -n $b route add 224.0.0.0/4 dev eth0
    }]}]
    set ipv6 [expr {$ok && ![catch {
	ip -n $b addr add fd32:232:250::1/64 dev eth0 nodad
    }]}]
    catch {ip netns del $a}
    catch {ip netns del $b}
    return $ok
}

# mcn::probeNft --
#	Whether nft is installed and nftables work inside a namespace (a
#	table with a numgen rule, as the loss test uses).

proc ::mcn::probeNft {} {
    if {[auto_execok nft] eq ""} {
	return 0
    }
    set a mcnprobe[pid]n
    set ok [expr {![catch {
	ip netns add $a
	exec {*}[::redist::envcmd] ip netns exec $a nft add table inet t 2>@1
	exec {*}[::redist::envcmd] ip netns exec $a nft add chain inet t in \
		{{ type filter hook input priority 0; }} 2>@1
	exec {*}[::redist::envcmd] ip netns exec $a nft add rule inet t in \
		udp dport 9 numgen random mod 20 0 counter drop 2>@1
    }]}]
    catch {ip netns del $a}
    return $ok
}

# mcn::setup --
#	Makes the switch and the hosts (see above). On failure whatever was
#	made is removed and an error raised.

proc ::mcn::setup {spec} {
    variable ipv6
    variable made
    variable counter
    variable nsOf
    variable addrOf
    variable sw
    set base mcn[pid]x[incr counter]
    set sw ${base}sw
    if {[catch {
	ip netns add $sw
	lappend made $sw
	ip -n $sw link set lo up
	set lans {}
	foreach {host hl} $spec {
	    foreach l $hl {
		if {$l ni $lans} {
		    lappend lans $l
		    ip -n $sw link add br$l type bridge mcast_snooping 0
		    ip -n $sw link set br$l up
		}
	    }
	}
	set i 0
	foreach {host hl} $spec {
	    set ns $base$host
	    ip netns add $ns
	    lappend made $ns
	    set nsOf($host) $ns
	    ip -n $ns link set lo up
	    set k 0
	    foreach l $hl {
		set port p${i}l$k
		ip -n $sw link add $port type veth peer name eth$k netns $ns
		ip -n $sw link set $port master br$l
		ip -n $sw link set $port up
		set addrOf($host,$l) 10.232.$l.[expr {$i + 1}]
		set addrOf($host,$l,6) fd32:232:$l\::[expr {$i + 1}]
		if {$k == 0} {
		    set addrOf($host,first) $addrOf($host,$l)
		    set addrOf($host,first,6) $addrOf($host,$l,6)
		}
		ip -n $ns addr add $addrOf($host,$l)/24 dev eth$k
		if {$ipv6} {
		    ip -n $ns addr add $addrOf($host,$l,6)/64 dev eth$k nodad
		}
		ip -n $ns link set eth$k up
		incr k
	    }
	    ip -n $ns route add 224.0.0.0/4 dev eth0
	    incr i
	}
    } msg opts]} {
	teardown
	return -options $opts "mcn::setup: $msg"
    }
    return
}

# mcn::ns, mcn::addr --
#	A host's namespace; its address on a LAN (default: its first), IPv4
#	or (family 6) IPv6.

proc ::mcn::ns {host} {
    variable nsOf
    return $nsOf($host)
}

proc ::mcn::addr {host {lan ""} {family 4}} {
    variable addrOf
    if {$lan eq ""} {
	set lan first
    }
    if {$family == 6} {
	return $addrOf($host,$lan,6)
    }
    return $addrOf($host,$lan)
}

# mcn::existing --
#	The namespaces of this process that exist now.

proc ::mcn::existing {} {
    set out {}
    foreach line [split [ip netns list] \n] {
	set name [lindex $line 0]
	if {[string match mcn[pid]x* $name]} {
	    lappend out $name
	}
    }
    return $out
}

# mcn::sweep --
#	Deletes the namespaces that earlier runs of these tests left behind
#	(a test process killed before its cleanup): those named by this
#	helper after a process that no longer exists. Returns their names.

proc ::mcn::sweep {} {
    set gone {}
    if {[catch {ip netns list} list]} {
	return $gone
    }
    foreach line [split $list \n] {
	set name [lindex $line 0]
	if {[regexp {^mcn(\d+)x\d+} $name -> p] && $p != [pid]
		&& ![file exists /proc/$p]} {
	    if {![catch {ip netns pids $name} pids]} {
		foreach q $pids {
		    catch {exec {*}[::redist::envcmd] kill -KILL $q}
		}
	    }
	    if {![catch {ip netns del $name}]} {
		lappend gone $name
	    }
	}
    }
    return $gone
}

# mcn::teardown --
#	Kills every process in the namespaces made (SIGKILL) and deletes
#	them. Returns the namespaces of this process still there afterwards
#	(none).

proc ::mcn::teardown {} {
    variable made
    variable nsOf
    variable addrOf
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
	    if {$ns ni [existing]} {
		break
	    }
	    after 50
	}
    }
    set made {}
    set sw ""
    array unset nsOf
    array unset addrOf
    return [existing]
}
