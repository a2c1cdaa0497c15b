# rediscluster.tcl --
#
#	Helpers for tests/clustershard.test and tests/clusterrecover.test,
#	on top of tests/helpers/redis.tcl (sourced first):
#
#	::rcl	a Redis Cluster made by the test: N redis-servers started by
#		redist::start with cluster-enabled (no persistence, free
#		ports on 127.0.0.1, each with a cluster bus port of its own
#		given by cluster-port, so that PORT+10000 need not be free),
#		joined with CLUSTER MEET, the 16384 slots split evenly with
#		CLUSTER ADDSLOTSRANGE, and waited for (bounded) until every
#		server reports cluster_state:ok and the same slot map. A slot
#		can be moved to another master (CLUSTER SETSLOT IMPORTING /
#		MIGRATING / NODE, the procedure of redis-cli --cluster
#		reshard for a slot without keys).
#	::tk	numbered lines, checks of what a client got (every line of
#		every sender exactly once, in each sender's order), waits on
#		the nodes' status, and the FNV-1a choice of a sharded node's
#		publishing channel (as mpCmdCluster.c computes it).
#
#	Every command to a server goes through redist::cmd (RESP over a
#	Tcl socket, bounded); nothing here runs redis-cli.

namespace eval ::rcl {
    variable clusters		;# id -> list of redist handles
    array set clusters {}
    variable counter 0
}

# rcl::start --
#	Starts n cluster-enabled redis-servers and makes them one Redis
#	Cluster of n masters (no replicas). Options:
#	    -config {name {value ...} ...}  more configuration directives
#	    -timeout MS			    cluster-node-timeout (1000)
#	Returns the handles (in the order of their slot ranges: the first
#	serves slots 0..). Raises an error if the cluster does not form
#	within the bound.

proc ::rcl::start {n args} {
    array set o {-config {} -timeout 1000}
    array set o $args
    set hs {}
    for {set i 0} {$i < $n} {incr i} {
	# The bus port: a free port of its own (redist::start picks the
	# client port).
	set bus [::redist::freePort]
	lappend hs [::redist::start -config [list \
		cluster-enabled yes \
		cluster-config-file nodes.conf \
		cluster-node-timeout $o(-timeout) \
		cluster-port $bus \
		{*}$o(-config)]]
    }
    form $hs
    return $hs
}

# rcl::busPort --
#	The cluster bus port of a server.

proc ::rcl::busPort {h} {
    lindex [::redist::cmd $h CONFIG GET cluster-port] 1
}

# rcl::id --
#	The node id of a server in its cluster.

proc ::rcl::id {h} {
    ::redist::cmd $h CLUSTER MYID
}

# rcl::form --
#	Gives each server an even share of the slots, makes them meet and
#	waits until they agree.

proc ::rcl::form {hs} {
    set n [llength $hs]
    set per [expr {16384 / $n}]
    set first 0
    foreach h $hs i [lsearch -all $hs *] {
	set last [expr {$i == $n - 1 ? 16383 : $first + $per - 1}]
	::redist::cmd $h CLUSTER ADDSLOTSRANGE $first $last
	set first [expr {$last + 1}]
    }
    set h0 [lindex $hs 0]
    foreach h [lrange $hs 1 end] {
	::redist::cmd $h0 CLUSTER MEET 127.0.0.1 [::redist::port $h] \
		[busPort $h]
    }
    if {![waitAgreed $hs 20000]} {
	error "the Redis Cluster did not form: [describe $hs]"
    }
}

# rcl::describe --
#	Each server's cluster_state and slot map, for error messages.

proc ::rcl::describe {hs} {
    set out {}
    foreach h $hs {
	set state ?
	catch {regexp {cluster_state:(\w+)} [::redist::cmd $h CLUSTER INFO] \
		-> state}
	lappend out "[::redist::port $h]: $state [catch {map $h} m] $m"
    }
    join $out "; "
}

# rcl::map --
#	The slot map a server reports (CLUSTER SLOTS) as a sorted list of
#	{first last port} (the masters' client ports).

proc ::rcl::map {h} {
    set m {}
    foreach r [::redist::cmd $h CLUSTER SLOTS] {
	lappend m [list [lindex $r 0] [lindex $r 1] [lindex $r 2 1]]
    }
    lsort -integer -index 0 $m
}

# rcl::waitAgreed --
#	Waits (bounded) until every server says cluster_state:ok, knows
#	every other one, and reports the same slot map covering all slots.
#	Returns 1 if they do.

proc ::rcl::waitAgreed {hs ms {live {}}} {
    if {$live eq ""} {
	set live $hs
    }
    set deadline [expr {[clock milliseconds] + [::redist::ms $ms]}]
    while {[clock milliseconds] < $deadline} {
	if {![catch {agreed $live [llength $hs]} ok] && $ok} {
	    return 1
	}
	mptest::pause 100
    }
    return 0
}

proc ::rcl::agreed {hs known} {
    set maps {}
    foreach h $hs {
	set ci [::redist::cmd $h CLUSTER INFO]
	if {![string match *cluster_state:ok* $ci]
		|| ![regexp "cluster_known_nodes:$known\\M" $ci]} {
	    return 0
	}
	lappend maps [map $h]
    }
    set m [lindex $maps 0]
    if {[llength [lsort -unique $maps]] != 1} {
	return 0
    }
    # Every slot, once.
    set next 0
    foreach r $m {
	if {[lindex $r 0] != $next} {
	    return 0
	}
	set next [expr {[lindex $r 1] + 1}]
    }
    expr {$next == 16384}
}

# rcl::slot --
#	The hash slot of a key or sharded channel (CLUSTER KEYSLOT).

proc ::rcl::slot {h key} {
    ::redist::cmd $h CLUSTER KEYSLOT $key
}

# rcl::owner --
#	The handle (of hs) of the master that serves slot, as server h
#	sees it.

proc ::rcl::owner {hs h slot} {
    foreach r [map $h] {
	lassign $r first last port
	if {$slot >= $first && $slot <= $last} {
	    foreach x $hs {
		if {[::redist::port $x] == $port} {
		    return $x
		}
	    }
	}
    }
    return ""
}

# rcl::moveSlot --
#	Moves slot (which holds no keys) from its master to master dst, as
#	the Redis Cluster specification describes: IMPORTING on dst,
#	MIGRATING on the source, then NODE dst on dst, on the other masters
#	and last on the source (so that every master knows the new owner
#	when the source lets the slot go and ends its subscriptions).
#	Waits (bounded) until every server reports the new owner. Returns 1
#	if they all do.

proc ::rcl::moveSlot {hs slot dst {ms 10000}} {
    set src [owner $hs $dst $slot]
    if {$src eq $dst} {
	return 1
    }
    set dstId [id $dst]
    ::redist::cmd $dst CLUSTER SETSLOT $slot IMPORTING [id $src]
    ::redist::cmd $src CLUSTER SETSLOT $slot MIGRATING $dstId
    ::redist::cmd $dst CLUSTER SETSLOT $slot NODE $dstId
    foreach h $hs {
	if {$h ne $src && $h ne $dst} {
	    catch {::redist::cmd $h CLUSTER SETSLOT $slot NODE $dstId}
	}
    }
    ::redist::cmd $src CLUSTER SETSLOT $slot NODE $dstId
    set deadline [expr {[clock milliseconds] + [::redist::ms $ms]}]
    while {[clock milliseconds] < $deadline} {
	set ok 1
	foreach h $hs {
	    if {[catch {owner $hs $h $slot} o] || $o ne $dst} {
		set ok 0
	    }
	}
	if {$ok} {
	    return 1
	}
	mptest::pause 100
    }
    return 0
}

# rcl::shardChannels --
#	PUBSUB SHARDCHANNELS on a server: the sharded channels it serves
#	that have subscribers.

proc ::rcl::shardChannels {h {pattern *}} {
    lsort [::redist::cmd $h PUBSUB SHARDCHANNELS $pattern]
}

# =====================================================================
# Test data and checks.
# =====================================================================

namespace eval ::tk {}

# tk::fnvChan --
#	The channel index (0..15) a -sharded node with this id publishes
#	on: FNV-1a (64 bits) of the id, modulo 16, as mpCmdCluster.c.

proc ::tk::fnvChan {node} {
    set h 14695981039346656037
    foreach b [split [encoding convertto utf-8 $node] ""] {
	scan $b %c c
	set h [expr {(($h ^ $c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF}]
    }
    expr {$h % 16}
}

# tk::numbered --
#	Lines tag-0 ... tag-(k-1), each padded to about size bytes when size
#	is given.

proc ::tk::numbered {tag k {from 0}} {
    set l {}
    for {set i $from} {$i < $from + $k} {incr i} {
	lappend l $tag-$i
    }
    return $l
}

# tk::check --
#	What a receiver got (lines tag-N, or tag-N-xxx... padded) against
#	expect, a dict tag -> k:
#	from each tag the lines tag-0 ... tag-(k-1) exactly once and in
#	order, and no line of any other tag. Returns "ok" or what is wrong
#	(how many, how many duplicates, in order or not, the first missing).

proc ::tk::check {lines expect} {
    array set got {}
    foreach l $lines {
	if {![regexp {^([^-]+)-(\d+)(?:-x*)?$} $l -> tag n]} {
	    return "unexpected line \"[string range $l 0 60]\""
	}
	lappend got($tag) $n
    }
    set problems {}
    foreach tag [lsort [array names got]] {
	if {![dict exists $expect $tag]} {
	    lappend problems "[llength $got($tag)] lines from $tag (not expected)"
	}
    }
    dict for {tag k} $expect {
	if {![info exists got($tag)]} {
	    lappend problems "nothing from $tag"
	    continue
	}
	set seq $got($tag)
	set want {}
	for {set i 0} {$i < $k} {incr i} {
	    lappend want $i
	}
	if {$seq ne $want} {
	    set uniq [lsort -integer -unique $seq]
	    set dup [expr {[llength $seq] - [llength $uniq]}]
	    set sorted [expr {$seq eq [lsort -integer $seq]}]
	    set missing {}
	    foreach i $want {
		if {[lsearch -exact -integer -sorted $uniq $i] < 0} {
		    lappend missing $i
		}
	    }
	    lappend problems "from $tag: [llength $seq] lines of $k,\
		    $dup duplicates,\
		    [expr {$sorted ? "in order" : "out of order"}],\
		    [llength $missing] missing\
		    [lrange $missing 0 4][expr {[llength $missing] > 5 ? "..." : ""}]"
	}
    }
    if {[llength $problems]} {
	return [join $problems "; "]
    }
    return ok
}

# tk::numbersOf --
#	The numbers of the lines tag-N (or tag-N-xxx...) among lines, in the
#	order received.

proc ::tk::numbersOf {lines tag} {
    set nums {}
    foreach l $lines {
	if {[regexp {^([^-]+)-(\d+)(?:-x*)?$} $l -> t n] && $t eq $tag} {
	    lappend nums $n
	}
    }
    return $nums
}

# tk::status --
#	A node's Cluster status as a dict of the keys given (all if none).

proc ::tk::status {h args} {
    set st [::cnode::status $h]
    if {[llength $args] == 0} {
	return $st
    }
    set d {}
    foreach k $args {
	dict set d $k [dict get $st $k]
    }
    return $d
}

# =====================================================================
# Nodes with clients.
# =====================================================================

namespace eval ::tk {
    variable sock		;# client name -> socket in this process
    variable nodeOf		;# client name -> node handle
    variable names {}		;# client names, in order
    variable nodes {}		;# node handles, in order
    variable idOf		;# node handle -> node id
    variable pace		;# client pacing state
    variable seen		;# client name -> {offset lines} (tk::lines)
    array set sock {}
    array set seen {}
    array set nodeOf {}
    array set idOf {}
    array set pace {}
}

# The procedures every node gets (its scripts run at its global level,
# where $mp is the instance):
#	pace TAG N MS	Broadcasts TAG-0 ... TAG-(N-1), one every MS ms, from
#			timers (returns at once); ::paced(TAG) counts them.
#	floodFrom TAG FROM N SIZE
#			Broadcasts TAG-FROM-xxx ... TAG-(FROM+N-1)-xxx (SIZE
#			bytes each) at once.
set ::tk::nodeProcs {
    proc pace {tag n ms} {
	set ::paced($tag) 0
	paceStep $tag $n $ms
    }
    proc floodFrom {tag from n size} {
	for {set i $from} {$i < $from + $n} {incr i} {
	    set head $tag-$i-
	    ${::mp}::Broadcast $head[string repeat x \
		    [expr {max(0, $size - [string length $head])}]]
	}
	return $n
    }
    proc paceStep {tag n ms} {
	${::mp}::Broadcast $tag-$::paced($tag)
	if {[incr ::paced($tag)] < $n} {
	    after $ms [list paceStep $tag $n $ms]
	}
    }
}

# tk::start --
#	Starts one node per spec ({ID URL}), each with line framing, the
#	node procedures above and perNode clients in this process (named
#	after the id in lower case: a1, a2 ... for A), joined to the cluster
#	at URL with -node ID and the join options. Waits until every node
#	has admitted its clients (not until it is connected: see
#	tk::waitConnected). Returns the node handles.

proc ::tk::start {specs perNode join} {
    variable sock
    variable nodeOf
    variable names
    variable nodes
    variable idOf
    set hs [::cnode::start [llength $specs]]
    foreach h $hs spec $specs {
	lassign $spec id url
	set idOf($h) $id
	lappend nodes $h
	::cnode::eval $h {${mp}::Config framing line}
	::cnode::eval $h $::tk::nodeProcs
	::cnode::eval $h "\${mp}::Cluster join [list $url] -node [list $id] $join"
	for {set i 1} {$i <= $perNode} {incr i} {
	    set name [string tolower $id]$i
	    set sock($name) [mptest::connect [::cnode::port $h]]
	    set nodeOf($name) $h
	    lappend names $name
	}
    }
    foreach h $hs {
	if {![::cnode::eval $h "waitUntil {\[llength \[\${mp}::Clients\]\] == $perNode} [::redist::ms 5000]"]} {
	    error "node $h: clients not admitted"
	}
    }
    return $hs
}

# tk::waitConnected --
#	Waits (bounded) until each node given says connected 1. Raises an
#	error naming the first that does not.

proc ::tk::waitConnected {hs {ms 10000}} {
    foreach h $hs {
	if {![::cnode::waitStatus $h {[dict get $st connected] == 1} $ms]} {
	    error "node $h not connected: [::cnode::status $h]"
	}
    }
}

# tk::lines --
#	The complete lines client name has received. Kept as they come (a
#	client may receive megabytes, and the waits ask often): only what
#	arrived since the last call is split. tk::reset forgets them.

proc ::tk::lines {name} {
    variable sock
    variable seen
    if {![info exists seen($name)]} {
	set seen($name) {0 {}}
    }
    lassign $seen($name) off lines
    set buf [mptest::received $sock($name)]
    set end [string last \n $buf]
    if {$end >= $off} {
	set seen($name) {}
	lappend lines {*}[split [string range $buf $off [expr {$end - 1}]] \n]
	set off [expr {$end + 1}]
	set seen($name) [list $off $lines]
    }
    return $lines
}

# tk::send --
#	Client name sends the lines.

proc ::tk::send {name lines} {
    variable sock
    mptest::send $sock($name) [join $lines \n]\n
}

# tk::waitHas --
#	Waits (bounded, in all) until every client named has received the
#	line. Returns 1 if they all did.

proc ::tk::waitHas {names line ms} {
    set deadline [expr {[clock milliseconds] + [::redist::ms $ms]}]
    foreach n $names {
	if {![mptest::wait {[lsearch -exact [::tk::lines $n] $line] >= 0} \
		[expr {max(1, $deadline - [clock milliseconds])}]]} {
	    return 0
	}
    }
    return 1
}

# tk::waitCount --
#	Waits (bounded) until client name has at least n lines matching the
#	glob pattern. Returns 1 if it has.

proc ::tk::waitCount {name pattern n ms} {
    mptest::wait {[llength [lsearch -all -glob [::tk::lines $name] \
	    $pattern]] >= $n} [::redist::ms $ms]
}

# tk::sync --
#	Each node broadcasts a line; waits until every client has every
#	one (bounded), then forgets what the clients received.

proc ::tk::sync {{ms 10000}} {
    variable nodes
    variable names
    variable sock
    set round [incr ::tk::syncRound]
    set want {}
    foreach h $nodes {
	::cnode::eval $h "\${mp}::Broadcast sync$round-$h"
	lappend want sync$round-$h
    }
    foreach line $want {
	if {![waitHas $names $line $ms]} {
	    error "sync: $line did not reach every client"
	}
    }
    reset
}
set ::tk::syncRound 0

# tk::reset --
#	Forgets what the clients received.

proc ::tk::reset {} {
    variable names
    variable sock
    variable seen
    foreach n $names {
	mptest::reset $sock($n)
    }
    array unset seen
}

# tk::paceClient --
#	Client name sends tag-0 ... tag-(n-1), one line every ms ms, from
#	timers of this process (returns at once); ::tk::pace(tag) counts
#	the lines sent.

proc ::tk::paceClient {name tag n ms} {
    variable pace
    set pace($tag) 0
    PaceStep $name $tag $n $ms
}

proc ::tk::PaceStep {name tag n ms} {
    variable pace
    variable sock
    if {![info exists sock($name)]} {
	return
    }
    catch {mptest::send $sock($name) $tag-$pace($tag)\n}
    if {[incr pace($tag)] < $n} {
	set pace(timer,$tag) [after $ms [list ::tk::PaceStep $name $tag $n $ms]]
    }
}

# tk::expectAll --
#	For client name: every tag of the dict senders (tag -> {origin k})
#	with k lines, except the tags whose origin is the client itself
#	(a client does not get its own lines; a node's Broadcast, origin
#	"", reaches every client).

proc ::tk::expectAll {name senders} {
    set expect {}
    dict for {tag spec} $senders {
	lassign $spec origin k
	if {$origin ne $name} {
	    dict set expect $tag $k
	}
    }
    return $expect
}

# tk::stopNodes --
#	Ends every node process still known: asks each to exit (after a
#	SIGCONT, in case the test stopped it), waits (bounded) and kills
#	what is left. Returns what went wrong: a node that did not exit
#	with status 0 (a crash, a sanitizer's or valgrind's exit status, a
#	kill) or that wrote a sanitizer report on its standard error; empty
#	if nothing did.

proc ::tk::stopNodes {} {
    set hs $::cnode::nodes
    foreach h $hs {
	if {[::cnode::alive $h]} {
	    ::cnode::signal $h CONT
	    catch {::cnode::send $h {exit 0}}
	}
    }
    set deadline [expr {[clock milliseconds] + [::redist::ms 5000]}]
    foreach h $hs {
	mptest::wait {![::cnode::alive $h]} \
		[expr {max(1, $deadline - [clock milliseconds])}]
    }
    set errs {}
    foreach h $hs {
	lappend errs [::cnode::stderr $h]
    }
    set problems {}
    foreach h $hs how [::cnode::stop {*}$hs] err $errs {
	if {$how ne "exit 0"} {
	    lappend problems "node $h: $how"
	}
	if {[regexp {(?:Sanitizer|runtime error:|ERROR SUMMARY: [1-9]).*} \
		$err m]} {
	    lappend problems "node $h: [string range $m 0 1000]"
	}
    }
    return $problems
}

# tk::cleanup --
#	Ends every node, client, timer and redis-server of the test. Raises
#	an error (the test fails) if a node did not end cleanly (see
#	tk::stopNodes).

proc ::tk::cleanup {} {
    variable sock
    variable nodeOf
    variable names
    variable nodes
    variable idOf
    variable pace
    variable seen
    array unset seen
    foreach k [array names pace timer,*] {
	after cancel $pace($k)
    }
    array unset pace
    # The clients go first: a node that exits with clients connected
    # waits for them to linger out.
    mptest::cleanup
    set problems [stopNodes]
    ::redist::cleanup
    array unset sock
    array unset nodeOf
    array unset idOf
    set names {}
    set nodes {}
    if {[llength $problems]} {
	error "nodes did not end cleanly: [join $problems {; }]"
    }
}
