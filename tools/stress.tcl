# stress.tcl --
#
#	A randomized, seeded, bounded re-entrancy stress of the multiplexer
#	package. Run it with tclsh:
#
#	    tclsh tools/stress.tcl ?-seed N? ?-seconds S? ?-rounds R?
#		?-round FIRST? ?-watchdog S? ?-verbose 0|1? ?-skip LIST?
#		?-progress FILE? ?-inject hang?
#
#	It runs rounds until S seconds (default 60) have passed or R rounds
#	(default 0: no limit) have run. Each round creates one to three
#	instances, some of them in child interpreters that load the package
#	too, listening on 127.0.0.1 port 0 with random settings and filters
#	of every kind (data, access, exit, output, plus Connect callbacks and
#	logger callbacks). Every such callback picks, at random, any command
#	of any instance: destroy, Kick, close, every Config key, every
#	Add*Filter, Join/Leave, Broadcast/Send/MultiPlex, Pause/Resume,
#	Connect, update, vwait with a timer, rename, namespace delete,
#	interp delete of a child interpreter that owns an instance, and
#	more. Meanwhile the driver's own client sockets connect, send random
#	bytes, lines and length frames, stop reading, half-close, close and
#	reset (a close with unread input pending, or the test helper
#	rawclient when MP_HELPER_DIR names a directory holding it); some
#	listeners take TLS (TCP or wss, with a certificate the driver makes
#	with the openssl command when it is there), reached by openssl
#	s_client processes sending random data and by plain clients sending
#	them garbage. Each
#	round ends by destroying everything that is left and checking that
#	no instance, channel or descriptor of the package remains.
#
#	-skip takes names of choices to leave out (the action names in
#	sa::act and stress::clientAction, the filter results, or "log" for
#	the logger callbacks), to run on past a known defect or to narrow
#	one down; -verbose 1 prints each round and, at the end, how often
#	each choice was made and which errors were caught. -progress FILE
#	writes, as each round starts, the options that replay that round
#	alone, so that a caller can tell which round a crash or a sanitizer
#	report (which end the process at once) happened in. -inject hang
#	blocks the event loop in the first round, to test the watchdog
#	(tests/stress.test).
#
#	Every random choice comes from rand(), seeded with srand() at the
#	start of each round from the seed and the round number, so
#	"-seed N -round K" replays round K of a run directly (the timing of
#	the sockets is not replayed, so a replay is likely, not certain, to
#	take the same path). The seed is printed first.
#
#	Expected Tcl errors (a destroyed instance, an unknown client, a bad
#	value ...) are caught and counted, never failures. Failures are
#	what the process itself cannot survive (crashes, sanitizer reports:
#	run it under the ASan build with "make stress"), hangs, and what is
#	left behind after a round. Exit status: 0 when every round passed;
#	1 for a leftover after a round; 2 for bad arguments; 4 for an error
#	in the driver itself (a defect of this script). A round running
#	longer than -watchdog seconds (default 60) is a hang: the watchdog
#	prints the seed and round and ends the process with SIGTERM (SIGKILL
#	2 s later if need be). The watchdog is a thread (package Thread), so
#	it works even when the event loop is blocked; without that package
#	an [after] timer exits with status 3 instead, which cannot see a
#	blocked loop (the caller's "timeout" is the real guard then).
#
#	Environment: MP_BUILD_DIR (directory with the package, put first on
#	auto_path), MP_HELPER_DIR (directory with the rawclient helper).

package require Tcl 8.6-

namespace eval ::stress {
    variable opt
    array set opt {
	-seed {} -seconds 60 -rounds 0 -round 1 -watchdog 60 -verbose 0
	-inject {} -skip {} -progress {}
    }
    variable round 0		;# The round running now.
    variable children {}	;# Child interpreters of the round.
    variable ports {}		;# Ports instances listen on (may be stale).
    variable wsPorts {}		;# Their WebSocket listeners' ports.
    variable tlsPorts {}	;# Their TLS listeners' ports (also in
				;# ports: plain clients send them garbage).
    variable tlsFiles {}	;# {certfile keyfile} made for the run with
				;# the openssl command, or {} without it.
    variable linked 0		;# An instance-to-instance link exists.
    variable depth 0		;# Nested callbacks (all interpreters).
    variable loopDepth 0	;# Nested update/vwait (all interpreters).
    variable clients		;# Driver client socket -> mode.
    array set clients {}
    variable raws {}		;# rawclient pipes still open.
    variable sinkSocks		;# Sockets accepted by the sink server.
    array set sinkSocks {}
    variable sinkPort 0		;# A plain Tcl server that swallows data.
    variable deadPort 0		;# A port nobody listens on.
    variable rawclient {}	;# Path of the rawclient helper, or "".
    variable counts		;# Counters for the summary.
    array set counts {}
    variable errors		;# Caught error codes -> count.
    array set errors {}
    variable tick 0
    variable watchThread {}
    variable watchTimer {}
    variable fdBase 0
}

#----------------------------------------------------------------------
# Random choices: every one goes through rand().
#----------------------------------------------------------------------

# stress::rnd --
#	A random integer from 0 to n-1.

proc ::stress::rnd {n} {
    expr {int(rand() * $n)}
}

# stress::count --
#	Counts an event for the summary.

proc ::stress::count {what} {
    variable counts
    incr counts($what)
}

# stress::caught --
#	Counts an expected error by the first two words of its error code.

proc ::stress::caught {code} {
    variable errors
    incr errors([lrange $code 0 1])
}

#----------------------------------------------------------------------
# The agent: the code that runs in every interpreter owning instances
# (this one and the child interpreters). It reaches the driver's state
# only through the ::stress:: commands (aliases in the children), so all
# interpreters share one random stream and one depth count.
#----------------------------------------------------------------------

set ::stress::agent {
    namespace eval ::sa {
	variable listener	;# instance -> listener channel
	array set listener {}
	variable nfilters	;# instance -> number of filters added
	array set nfilters {}
	variable renamed {}	;# {newname tail} of renamed commands
	variable seen {}	;# client channels met so far
	variable made 0		;# instances created in this interpreter
	variable vw 0		;# counter for vwait variable names
	variable logger [expr {![catch {package require logger}]}]
	variable cmds {
	    Init Port Pause Resume Config AddFilter AddAccessFilter
	    AddExitFilter AddOutputFilter MultiPlex Broadcast Send Clients
	    Kick Reason Stats Join Leave Groups Connect destroy
	}
    }

    # sa::pick --
    #	A random element of a list ("" if empty).

    proc ::sa::pick {list} {
	if {![llength $list]} {
	    return ""
	}
	lindex $list [stress::rnd [llength $list]]
    }

    # sa::weighted --
    #	Picks a name from a {name weight ...} list.

    proc ::sa::weighted {table} {
	set total 0
	set kept {}
	foreach {name w} $table {
	    if {![stress::skips $name]} {
		lappend kept $name $w
		incr total $w
	    }
	}
	set table $kept
	set r [stress::rnd $total]
	foreach {name w} $table {
	    if {$r < $w} {
		return $name
	    }
	    incr r -$w
	}
    }

    # sa::data --
    #	Random bytes: mostly short, now and then empty or 70 kB; sometimes
    #	lines, sometimes a length frame, rarely a character above \xFF.

    proc ::sa::data {} {
	switch -- [weighted {empty 1 short 10 line 6 frame 4 long 2 huge 1 wide 1}] {
	    empty { return "" }
	    short { set n [expr {1 + [stress::rnd 16]}] }
	    line {
		set s ""
		for {set i [stress::rnd 4]} {$i >= 0} {incr i -1} {
		    append s [string repeat [pick {a b x .}] [stress::rnd 40]] \n
		}
		return $s
	    }
	    frame {
		set body [string repeat z [stress::rnd 64]]
		if {[stress::rnd 8] == 0} {
		    return [binary format I [stress::rnd 2000000]]$body
		}
		return [binary format I [string length $body]]$body
	    }
	    long { set n [expr {100 + [stress::rnd 3000]}] }
	    huge { return [string repeat [pick {a \n \0}] 70000] }
	    wide { return "wide\u20ac" }
	}
	set s ""
	for {set i 0} {$i < $n} {incr i} {
	    append s [format %c [stress::rnd 256]]
	}
	return $s
    }

    # sa::configPair --
    #	A random Config key and value (some values invalid).

    proc ::sa::configPair {} {
	set key [pick {
	    sendtoorigin debuglevel framing maxmessage maxqueue overflow
	    idletimeout maxclients maxperaddr route allow deny linger
	    handshaketimeout pinginterval wsmessagetype nosuchkey
	}]
	set values [dict get {
	    sendtoorigin {0 1 yes bogus}
	    debuglevel {debug info notice warn error critical critical bogus}
	    framing {raw line length bogus}
	    maxmessage {1 16 1000 70000 1048576 0}
	    maxqueue {1 100 5000 65536 4194304 0}
	    overflow {drop disconnect bogus}
	    idletimeout {0 0 1 20 300 -1}
	    maxclients {0 0 1 2 5 -3}
	    maxperaddr {0 0 1 3 x}
	    route {all groups bogus}
	    allow {{} {} 127.0.0.1 127.0.0.0/8 10.0.0.0/8 ::1 1.2.3.4/99}
	    deny {{} {} {} 127.0.0.1 10.0.0.1 ::ffff:127.0.0.0/104 x/y}
	    linger {0 1 50 300 -5}
	    handshaketimeout {0 30 200 10000 -1}
	    pinginterval {0 10 100 30000 -2}
	    wsmessagetype {auto text binary bogus}
	    nosuchkey {1}
	} $key]
	list $key [pick $values]
    }

    # sa::chanOf --
    #	A channel to act on: the callback's own, a client of mp, one met
    #	before (perhaps gone), the listener, or a bogus name. Never one of
    #	the driver's own channels.

    # sa::nullChan, sa::DrainChan, sa::CopyDone --
    #	For scripts that take a client's input (the read action): a
    #	channel that discards what is copied to it, a readable handler
    #	that reads what is waiting and closes the channel at end of file,
    #	and a background copy's callback, which may close the channel.

    proc ::sa::nullChan {} {
	variable null
	if {![info exists null] || $null ni [chan names]} {
	    set null [open /dev/null wb]
	}
	return $null
    }

    proc ::sa::DrainChan {c} {
	if {[catch {read $c}] || [catch {eof $c} e] || $e} {
	    catch {fileevent $c readable {}}
	    catch {close $c}
	}
    }

    proc ::sa::CopyDone {c args} {
	if {[stress::rnd 2]} {
	    catch {close $c}
	}
    }

    proc ::sa::chanOf {mp ctx} {
	variable seen
	variable listener
	switch -- [weighted {ctx 4 client 5 seen 2 listener 1 bogus 1}] {
	    ctx {
		if {$ctx ne ""} {
		    return $ctx
		}
	    }
	    seen {
		if {[llength $seen]} {
		    return [pick $seen]
		}
	    }
	    listener {
		if {[info exists listener($mp)]} {
		    return $listener($mp)
		}
	    }
	    bogus {
		return mpsock999999
	    }
	}
	if {[catch {${mp}::Clients} list]} {
	    return mpsock999999
	}
	set c [lindex [pick $list] 0]
	if {$c eq ""} {
	    return mpsock999999
	}
	return $c
    }

    # sa::remember --
    #	Keeps a channel name for later use (bounded list).

    proc ::sa::remember {chan} {
	variable seen
	if {[string match mpsock* $chan] && $chan ni $seen} {
	    lappend seen $chan
	    if {[llength $seen] > 40} {
		set seen [lrange $seen end-39 end]
	    }
	}
    }

    # sa::argsFor --
    #	Plausible (sometimes wrong) arguments for an instance command.

    proc ::sa::argsFor {tail mp ctx} {
	set chan [chanOf $mp $ctx]
	switch -- $tail {
	    Init { return [list 0 -myaddr 127.0.0.1] }
	    Config { return [configPair] }
	    AddFilter - AddAccessFilter - AddExitFilter - AddOutputFilter {
		return [list [list ::sa::filter other $mp]]
	    }
	    MultiPlex { return [list [data] $chan] }
	    Broadcast { return [list [data]] }
	    Send { return [list $chan [data]] }
	    Kick - Reason { return [list $chan] }
	    Join - Leave { return [list $chan [pick {red blue}]] }
	    Groups { return [pick [list {} [list $chan]]] }
	    Connect {
		return [list 127.0.0.1 [stress::linkPort $mp] -timeout 200]
	    }
	}
	return {}
    }

    # sa::call --
    #	Evaluates a command, catching and counting any error.

    proc ::sa::call {args} {
	if {[catch {uplevel #0 $args} res opts]} {
	    set code [dict get $opts -errorcode]
	    if {$code eq "NONE"} {
		# Say which command raised an error without a code.
		set code [list NONE "[lindex $args 0] [string range $res 0 50]"]
	    }
	    stress::caught $code
	    return ""
	}
	return $res
    }

    # sa::instances --
    #	The live instances of this interpreter.

    proc ::sa::instances {} {
	if {[catch {multiplexer::instances} list]} {
	    return {}
	}
	return $list
    }

    # sa::addFilter --
    #	Adds a random filter of the given kind (bounded per instance).

    proc ::sa::addFilter {mp kind} {
	variable nfilters
	if {[incr nfilters($mp)] > 12} {
	    return
	}
	set cmd [dict get {
	    data AddFilter access AddAccessFilter exit AddExitFilter
	    output AddOutputFilter
	} $kind]
	set prefix [list ::sa::filter $kind $mp]
	switch -- [weighted {plain 8 prio 4 empty 1 missing 1 badprio 1}] {
	    plain { call ${mp}::$cmd $prefix }
	    prio { call ${mp}::$cmd $prefix [stress::rnd 101] }
	    empty { call ${mp}::$cmd {} }
	    missing { call ${mp}::$cmd ::sa::noSuchCommand }
	    badprio { call ${mp}::$cmd $prefix 101 }
	}
    }

    # sa::logHook --
    #	Routes an instance's logger service to sa::logged, so that logging
    #	runs the stress actions too (and writes nothing).

    proc ::sa::logHook {mp} {
	variable logger
	if {!$logger} {
	    return
	}
	set svc [string range $mp 2 end]
	if {[catch {logger::servicecmd $svc} log]} {
	    return
	}
	foreach lvl [logger::levels] {
	    catch {${log}::logproc $lvl text "::sa::logged [list $mp] \$text"}
	}
    }

    # sa::logged --
    #	Logger callback.

    proc ::sa::logged {mp text} {
	if {![stress::skips log]} {
	    filter log $mp
	}
    }

    # sa::create --
    #	Creates an instance with random settings and filters, listening on
    #	127.0.0.1 (most of the time).

    proc ::sa::create {} {
	variable listener
	variable made
	if {[incr made] > 4} {
	    return
	}
	set mp [multiplexer::create]
	stress::count instance
	logHook $mp
	call ${mp}::Config linger [pick {0 1 50 300}] debuglevel \
	    [pick {critical critical critical error warn debug}]
	for {set i [stress::rnd 6]} {$i > 0} {incr i -1} {
	    call ${mp}::Config {*}[configPair]
	}
	# Linger stays short so the end of a round need not wait long.
	call ${mp}::Config linger [pick {0 1 50 300}]
	foreach kind {data access exit output} {
	    if {[stress::rnd 10] < 8} {
		addFilter $mp $kind
	    }
	}
	for {set i [stress::rnd 3]} {$i > 0} {incr i -1} {
	    addFilter $mp [pick {data access exit output}]
	}
	if {[stress::rnd 10] < 9} {
	    set l [call ${mp}::Init 0 -myaddr 127.0.0.1]
	    if {$l ne ""} {
		set listener($mp) $l
		stress::addPort [call ${mp}::Port]
	    }
	}
	if {[stress::rnd 10] < 5} {
	    initWs $mp
	}
	if {[stress::rnd 10] < 4} {
	    initTls $mp
	}
	return $mp
    }

    # sa::initTls --
    #	Opens a TLS listener on mp (a TCP or, sometimes, a wss one), when
    #	the driver has a certificate, and tells the driver its port.

    proc ::sa::initTls {mp} {
	set files [stress::tlsFiles]
	if {$files eq ""} {
	    return
	}
	set opts [list -tls [list -certfile [lindex $files 0] \
	    -keyfile [lindex $files 1]]]
	if {[stress::rnd 3] == 0} {
	    lappend opts -protocol websocket
	}
	set l [call ${mp}::Init 0 -myaddr 127.0.0.1 {*}$opts]
	if {$l ne "" && ![catch {fconfigure $l -sockname} name]} {
	    stress::addTlsPort [lindex $name 2]
	}
    }

    # sa::initWs --
    #	Opens a WebSocket listener on mp (some of them serving plain HTTP
    #	through sa::http) and tells the driver its port.

    proc ::sa::initWs {mp} {
	variable listener
	set opts [list -protocol websocket]
	if {[stress::rnd 2]} {
	    lappend opts -httpcommand [list ::sa::http $mp]
	}
	if {[stress::rnd 4] == 0} {
	    lappend opts -subprotocols {chat v2}
	}
	set l [call ${mp}::Init 0 -myaddr 127.0.0.1 {*}$opts]
	if {$l ne ""} {
	    set listener($mp) $l
	    if {![catch {fconfigure $l -sockname} name]} {
		stress::addWsPort [lindex $name 2]
	    }
	}
    }

    # sa::http --
    #	A WebSocket listener's -httpcommand: random actions, then an answer
    #	(sometimes malformed, sometimes an error).

    proc ::sa::http {mp request} {
	stress::count "cb http"
	if {[stress::enter]} {
	    for {set i [stress::rnd 3]} {$i > 0} {incr i -1} {
		act $mp ""
	    }
	}
	stress::leave
	switch -- [weighted {ok 8 bad 1 error 1}] {
	    ok { return [list 200 {Content-Type text/plain} [data]] }
	    bad { return [list 99 {} x] }
	    error { error "stress error" }
	}
    }

    # sa::filter --
    #	Every callback (filters of each kind, Connect callbacks, logging):
    #	does up to two random actions, then returns a random result for
    #	its kind. Depth is bounded across all interpreters.

    proc ::sa::filter {kind mp args} {
	set ctx ""
	switch -- $kind {
	    data { lassign $args data ctx }
	    output { lassign $args data from ctx }
	    access - exit - connect { set ctx [lindex $args 0] }
	}
	remember $ctx
	stress::count "cb $kind"
	if {[stress::enter]} {
	    for {set i [stress::rnd 3]} {$i > 0} {incr i -1} {
		act $mp $ctx
	    }
	}
	stress::leave
	switch -- $kind {
	    data - output {
		switch -- [weighted {same 10 other 3 break 2 continue 2 error 1 return 1 wide 1}] {
		    same { return $data }
		    other { return [data] }
		    break { return -code break }
		    continue { return -code continue }
		    error { error "stress error" }
		    return { return -code return $data }
		    wide { return "x\u0101y" }
		}
	    }
	    access {
		switch -- [weighted {ok 12 deny 1 break 1 continue 1 error 1}] {
		    ok { return 0 }
		    deny { return -1 }
		    break { return -code break }
		    continue { return -code continue }
		    error { error "stress error" }
		}
	    }
	    exit {
		switch -- [weighted {ok 8 break 1 error 1}] {
		    ok { return }
		    break { return -code break }
		    error { error "stress error" }
		}
	    }
	    default {
		if {[stress::rnd 8] == 0} {
		    error "stress error"
		}
		return
	    }
	}
    }

    # sa::act --
    #	One random action on a random instance of this interpreter (or,
    #	through the driver, on another interpreter).

    proc ::sa::act {self ctx} {
	variable listener
	variable renamed
	variable vw
	variable cmds
	set live [instances]
	set mp $self
	if {[llength $live] && ($mp ni $live || [stress::rnd 4] == 0)} {
	    set mp [pick $live]
	}
	if {$mp eq ""} {
	    # No instance: act on a name that is none (never on "", whose
	    # commands would be the global ones).
	    set mp ::multiplexer::gone
	}
	set what [weighted {
	    destroy 2 nsdelete 1 kick 6 close 5 closelistener 1 config 10
	    configget 1 addfilter 4 join 4 leave 3 groups 1 broadcast 6
	    send 5 multiplex 4 pause 2 resume 3 connect 2 update 3 vwait 3
	    rename 2 callrenamed 3 interpdelete 1 host 2 puts 4 flush 1
	    fconfigure 2 info 3 init 1 create 1 nothing 3 read 1 peer 1
	}]
	stress::count $what
	switch -- $what {
	    destroy { call ${mp}::destroy }
	    nsdelete { call namespace delete $mp }
	    kick {
		set c [chanOf $mp $ctx]
		if {[stress::rnd 2]} {
		    call ${mp}::Kick $c
		} else {
		    call ${mp}::Kick $c "stress [stress::rnd 100]"
		}
	    }
	    close {
		set c [chanOf $mp $ctx]
		if {[string match mp* $c]} {
		    call close $c
		}
	    }
	    closelistener {
		if {[info exists listener($mp)]} {
		    call close $listener($mp)
		}
	    }
	    config {
		set pairs {}
		for {set i [stress::rnd 3]} {$i >= 0} {incr i -1} {
		    lappend pairs {*}[configPair]
		}
		call ${mp}::Config {*}$pairs
		# Keep linger short (see sa::create).
		if {"linger" in $pairs} {
		    call ${mp}::Config linger [pick {0 1 50 300}]
		}
	    }
	    configget {
		call ${mp}::Config {*}[lrange [configPair] 0 [stress::rnd 2]-1]
	    }
	    addfilter { addFilter $mp [pick {data access exit output}] }
	    join { call ${mp}::Join [chanOf $mp $ctx] [pick {red blue green}] }
	    leave { call ${mp}::Leave [chanOf $mp $ctx] [pick {red blue green}] }
	    groups { call ${mp}::Groups {*}[argsFor Groups $mp $ctx] }
	    broadcast {
		set opts {}
		if {[stress::rnd 3] == 0} {
		    lappend opts -exclude [chanOf $mp $ctx]
		}
		if {[stress::rnd 3] == 0} {
		    lappend opts -group [pick {red blue green none}]
		}
		call ${mp}::Broadcast [data] {*}$opts
	    }
	    send { call ${mp}::Send [chanOf $mp $ctx] [data] }
	    multiplex {
		if {[stress::rnd 2]} {
		    call ${mp}::MultiPlex [data] [chanOf $mp $ctx]
		} else {
		    call ${mp}::MultiPlex [data]
		}
	    }
	    pause { call ${mp}::Pause }
	    resume { call ${mp}::Resume }
	    connect {
		set port [stress::linkPort $mp]
		if {[stress::rnd 2]} {
		    call ${mp}::Connect 127.0.0.1 $port -timeout \
			[pick {1 50 200}] -command [list ::sa::filter connect $mp]
		} else {
		    remember [call ${mp}::Connect 127.0.0.1 $port -timeout \
			[pick {1 50 200}]]
		}
	    }
	    update {
		if {[stress::enterLoop]} {
		    if {[stress::rnd 3]} {
			update
		    } else {
			update idletasks
		    }
		}
		stress::leaveLoop
	    }
	    vwait {
		# In the driver's interpreter: a vwait in a child that is
		# deleted meanwhile would lose its timer and never return.
		stress::vwaitTimer [stress::rnd 15]
	    }
	    rename {
		set victim [pick [info commands ${mp}::*]]
		if {$victim ne ""} {
		    set tail [namespace tail $victim]
		    switch -- [stress::rnd 3] {
			0 { set new ::sa::r[incr vw] }
			1 { set new ${mp}::R[incr vw] }
			2 { set new "" }
		    }
		    if {[catch {rename $victim $new}] == 0 && $new ne ""} {
			lappend renamed [list $new $tail]
		    }
		}
	    }
	    callrenamed {
		lassign [pick $renamed] name tail
		if {$name ne ""} {
		    call $name {*}[argsFor $tail $mp $ctx]
		}
	    }
	    interpdelete { stress::hostAct interpdelete }
	    host { stress::hostAct act }
	    puts {
		set c [chanOf $mp $ctx]
		if {[string match mp* $c]} {
		    call puts -nonewline $c [data]
		}
	    }
	    flush {
		set c [chanOf $mp $ctx]
		if {[string match mp* $c]} {
		    call flush $c
		}
	    }
	    fconfigure {
		set c [chanOf $mp $ctx]
		if {[string match mp* $c]} {
		    call fconfigure $c [pick {-queued -peername -sockname -blocking}]
		}
	    }
	    read {
		# Takes the client's input for the script (never blocking:
		# the channel stays non-blocking here).
		set c [chanOf $mp $ctx]
		if {[string match mp* $c]} {
		    switch -- [stress::rnd 4] {
			0 { call read $c }
			1 { call gets $c }
			2 {
			    call fileevent $c readable \
				    [list ::sa::DrainChan $c]
			}
			3 {
			    call chan copy $c [::sa::nullChan] \
				    -size [stress::rnd 5000] \
				    -command [list ::sa::CopyDone $c]
			}
		    }
		}
	    }
	    info {
		set tail [pick {Clients Stats Reason Port Groups}]
		call ${mp}::$tail {*}[argsFor $tail $mp $ctx]
	    }
	    init {
		if {[stress::rnd 3] == 0} {
		    initWs $mp
		} else {
		    set l [call ${mp}::Init 0 -myaddr 127.0.0.1]
		    if {$l ne ""} {
			set listener($mp) $l
			stress::addPort [call ${mp}::Port]
		    }
		}
	    }
	    peer {
		call ${mp}::Peer [chanOf $mp $ctx]
	    }
	    create { create }
	    nothing {}
	}
    }

    # sa::teardown --
    #	Ends every instance of this interpreter and deletes renamed
    #	commands (which keep their instance's record alive).

    proc ::sa::teardown {} {
	variable renamed
	# Exit filters run by a destroy may create instances: a few passes.
	for {set pass 0} {$pass < 5 && [llength [instances]]} {incr pass} {
	    foreach mp [instances] {
		if {[stress::rnd 4]} {
		    call ${mp}::destroy
		}
		# Its destroy command may have been renamed or deleted.
		if {[namespace exists $mp]} {
		    call namespace delete $mp
		}
	    }
	}
	foreach r $renamed {
	    catch {rename [lindex $r 0] {}}
	}
	set renamed {}
    }

    # sa::reset --
    #	Forgets the state of the previous round.

    proc ::sa::reset {} {
	variable listener
	variable nfilters
	variable seen {}
	variable made 0
	array unset listener
	array unset nfilters
    }
}

#----------------------------------------------------------------------
# Services of the driver, called by the agents.
#----------------------------------------------------------------------

# stress::skips --
#	Whether a choice is excluded by -skip (a list of action names, or
#	"log" for the logger callbacks), for bisecting a known defect away.

proc ::stress::skips {name} {
    variable opt
    expr {$name in $opt(-skip)}
}

# stress::enter, stress::leave --
#	Count nested callbacks; enter returns 0 when too deep to act.

proc ::stress::enter {} {
    variable depth
    expr {[incr depth] <= 5}
}

proc ::stress::leave {} {
    variable depth
    incr depth -1
}

# stress::enterLoop, stress::leaveLoop --
#	Count nested event loops (update, vwait); at most three.

proc ::stress::enterLoop {} {
    variable loopDepth
    expr {[incr loopDepth] <= 3}
}

proc ::stress::leaveLoop {} {
    variable loopDepth
    incr loopDepth -1
}

# stress::vwaitTimer --
#	A vwait ended by a timer of ms milliseconds (when not too deep).

proc ::stress::vwaitTimer {ms} {
    variable tick
    if {[enterLoop]} {
	set var ::stress::w[incr tick]
	set id [after $ms [list set $var 1]]
	vwait $var
	after cancel $id
	unset -nocomplain $var
    }
    leaveLoop
}

# stress::addPort --
#	Records a port an instance listens on.

proc ::stress::addWsPort {port} {
    variable wsPorts
    if {[string is integer -strict $port] && $port ni $wsPorts} {
	lappend wsPorts $port
    }
}

proc ::stress::addTlsPort {port} {
    variable tlsPorts
    if {[string is integer -strict $port] && $port ni $tlsPorts} {
	lappend tlsPorts $port
    }
    addPort $port
}

proc ::stress::tlsFiles {} {
    variable tlsFiles
    return $tlsFiles
}

proc ::stress::addPort {port} {
    variable ports
    if {[string is integer -strict $port] && $port ni $ports} {
	lappend ports $port
    }
}

# stress::linkPort --
#	A port for Connect: the sink server, a dead port, or (once per round,
#	so that links never form a cycle) another instance's listener.

proc ::stress::linkPort {mp} {
    variable linked
    variable ports
    variable sinkPort
    variable deadPort
    set r [rnd 10]
    if {$r < 2} {
	return $deadPort
    }
    if {$r < 4 && !$linked && [llength $ports] > 1} {
	# A link to the caller's own listener would make a loop.
	set p [lindex $ports [rnd [llength $ports]]]
	if {![IsOwnPort $mp $p]} {
	    set linked 1
	    return $p
	}
    }
    return $sinkPort
}

# stress::IsOwnPort --
#	Whether port is the listener of instance mp of any interpreter (the
#	caller's interpreter is not known; an instance name is unique only
#	per interpreter, so every interpreter holding that name is asked).

proc ::stress::IsOwnPort {mp port} {
    variable children
    foreach i [linsert $children 0 {}] {
	if {[catch {interp eval $i [list ${mp}::Port]} p] == 0 && $p == $port} {
	    return 1
	}
    }
    return 0
}

# stress::hostAct --
#	Actions an agent asks the driver for: delete a child interpreter
#	(perhaps its own), or act in another interpreter.

proc ::stress::hostAct {what} {
    variable children
    switch -- $what {
	interpdelete {
	    set i [lindex $children [rnd [llength $children]]]
	    if {$i ne "" && [interp exists $i]} {
		count "interp delete"
		interp delete $i
	    }
	}
	act {
	    set i [lindex [linsert $children 0 {}] [rnd [expr {[llength $children] + 1}]]]
	    if {[interp exists $i]} {
		catch {interp eval $i {::sa::act "" ""}}
	    }
	}
    }
}

#----------------------------------------------------------------------
# The driver's own sockets.
#----------------------------------------------------------------------

# stress::SinkAccept, stress::SinkRead --
#	A server for Connect links: swallows what arrives, now and then
#	answers or hangs up.

proc ::stress::SinkAccept {sock addr port} {
    variable sinkSocks
    fconfigure $sock -blocking 0 -translation binary
    set sinkSocks($sock) 1
    if {[rnd 3] == 0} {
	catch {puts -nonewline $sock "sink hello\n"; flush $sock}
    }
    fileevent $sock readable [list ::stress::SinkRead $sock]
}

proc ::stress::SinkRead {sock} {
    variable sinkSocks
    if {[catch {read $sock}] || [eof $sock] || [rnd 50] == 0} {
	catch {close $sock}
	unset -nocomplain sinkSocks($sock)
    }
}

# stress::ClientRead --
#	Reads and discards a client socket's input; closes it at EOF.

proc ::stress::ClientRead {sock} {
    variable clients
    if {[catch {read $sock}] || [eof $sock]} {
	catch {close $sock}
	unset -nocomplain clients($sock)
    }
}

# stress::RawDone --
#	Collects a rawclient's output; closes the pipe at EOF.

proc ::stress::RawDone {pipe} {
    variable raws
    if {[catch {read $pipe}] || [eof $pipe]} {
	catch {close $pipe}
	set raws [lsearch -all -inline -not -exact $raws $pipe]
    }
}

# stress::clientAction --
#	One random action of the driver's clients.

proc ::stress::clientAction {} {
    variable clients
    variable ports
    variable raws
    variable rawclient
    set socks [array names clients]
    set s [lindex $socks [rnd [llength $socks]]]
    set what [::sa::weighted {
	client-connect 5 client-send 16 client-stopread 1
	client-halfclose 1 client-close 2 client-reset 2 client-raw 2
	client-ws 3 client-wsframe 8 client-tls 1
    }]
    if {$s eq "" && $what ni {client-connect client-raw client-ws client-tls}} {
	set what client-connect
    }
    if {$what eq "client-wsframe" && $clients($s) ne "ws"} {
	set what client-send
    }
    count $what
    switch -- $what {
	client-connect {
	    if {[array size clients] >= 24 || ![llength $ports]} {
		return
	    }
	    set port [lindex $ports [rnd [llength $ports]]]
	    if {[catch {socket 127.0.0.1 $port} sock]} {
		return
	    }
	    fconfigure $sock -blocking 0 -translation binary -buffering none
	    set clients($sock) read
	    fileevent $sock readable [list ::stress::ClientRead $sock]
	}
	client-ws {
	    variable wsPorts
	    if {[array size clients] >= 24 || ![llength $wsPorts]} {
		return
	    }
	    set port [lindex $wsPorts [rnd [llength $wsPorts]]]
	    if {[catch {socket 127.0.0.1 $port} sock]} {
		return
	    }
	    fconfigure $sock -blocking 0 -translation binary -buffering none
	    set clients($sock) ws
	    fileevent $sock readable [list ::stress::ClientRead $sock]
	    set path [::sa::pick {/ /chat /x?y=1}]
	    set head "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    if {[rnd 5]} {
		append head "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
		    "Sec-WebSocket-Version: [::sa::pick {13 13 13 8}]\r\n"
	    }
	    if {[rnd 4] == 0} {
		append head "Sec-WebSocket-Protocol: v2\r\n"
	    }
	    if {[rnd 8]} {
		append head "\r\n"		;# else: the head never ends
	    }
	    if {[catch {puts -nonewline $sock $head}]} {
		catch {close $sock}
		unset clients($sock)
	    }
	}
	client-wsframe {
	    if {[catch {puts -nonewline $s [wsFrame]}]} {
		catch {close $s}
		unset clients($s)
	    }
	}
	client-send {
	    if {$clients($s) eq "halfclosed"} {
		return
	    }
	    if {[catch {puts -nonewline $s [::sa::data]}]} {
		catch {close $s}
		unset clients($s)
	    }
	}
	client-stopread {
	    fileevent $s readable {}
	    set clients($s) noread
	}
	client-halfclose {
	    if {[catch {close $s write}]} {
		catch {close $s}
		unset clients($s)
	    } else {
		set clients($s) halfclosed
	    }
	}
	client-close {
	    catch {close $s}
	    unset clients($s)
	}
	client-reset {
	    # Closing with unread input pending makes the kernel send a
	    # reset: stop reading, let input arrive, then close.
	    fileevent $s readable {}
	    catch {puts -nonewline $s [::sa::data]}
	    after [rnd 30] [list ::stress::ResetLater $s]
	    unset clients($s)
	}
	client-tls {
	    # A real TLS client (openssl s_client) sends random data and
	    # leaves when its input ends, at once or after a while.
	    variable tlsPorts
	    if {[llength $raws] >= 4 || ![llength $tlsPorts]} {
		return
	    }
	    set port [lindex $tlsPorts [rnd [llength $tlsPorts]]]
	    if {[catch {open |[list openssl s_client -quiet -no_ign_eof \
		    -connect 127.0.0.1:$port \
		    {*}[::sa::pick {{} {} -tls1_2 -tls1_3}] 2>@1] r+} pipe]} {
		return
	    }
	    fconfigure $pipe -blocking 0 -translation binary -buffering none
	    catch {puts -nonewline $pipe [::sa::data]}
	    after [rnd 400] [list catch [list close $pipe write]]
	    fileevent $pipe readable [list ::stress::RawDone $pipe]
	    lappend raws $pipe
	}
	client-raw {
	    if {$rawclient eq "" || [llength $raws] >= 4 || ![llength $ports]} {
		return
	    }
	    set port [lindex $ports [rnd [llength $ports]]]
	    set steps {}
	    for {set i [rnd 4]} {$i >= 0} {incr i -1} {
		lappend steps [::sa::pick [list text=hello\\n \
		    fill=[rnd 200000]:x sleep=[rnd 50] drain=[rnd 50] \
		    shutwr text=\\x00\\x00\\x00\\x05abc]]
	    }
	    lappend steps [::sa::pick {rst rst close}]
	    if {[catch {open |[list $rawclient 127.0.0.1 $port {*}$steps] r} pipe]} {
		return
	    }
	    fconfigure $pipe -blocking 0
	    fileevent $pipe readable [list ::stress::RawDone $pipe]
	    lappend raws $pipe
	}
    }
}

# stress::wsFrame --
#	A random client frame: mostly valid (masked with a zero key, so the
#	payload is sent as it is), sometimes a protocol error of one kind or
#	another.

proc ::stress::wsFrame {} {
    set data [::sa::data]
    if {[string length $data] > 125} {
	set data [string range $data 0 124]
    }
    set kind [::sa::weighted {
	text 10 binary 4 ping 3 pong 1 close 1 fragment 3 cont 2
	unmasked 1 rsv 1 opcode 1 huge 1 badutf 1 badclose 1
    }]
    set fin 0x80
    set mask 0x80
    switch -- $kind {
	text { set op 1; set data [encoding convertto utf-8 $data] }
	binary { set op 2 }
	ping { set op 9 }
	pong { set op 10 }
	close { set op 8; set data [binary format S [::sa::pick {1000 1001 4000}]] }
	fragment { set op 1; set fin 0; set data abc }
	cont { set op 0; set data def }
	unmasked { set op 1; set mask 0 }
	rsv { set op [expr {0x40 | 1}] }
	opcode { set op [::sa::pick {3 11}] }
	huge {
	    return [binary format ccWc4 [expr {0x80 | 2}] [expr {0x80 | 127}] \
		[expr {1 << 40}] {0 0 0 0}]
	}
	badutf { set op 1; set data "\xC0\xAF" }
	badclose { set op 8; set data [binary format S 1005] }
    }
    set len [string length $data]
    if {$len < 126} {
	set hdr [binary format cc [expr {$fin | $op}] [expr {$mask | $len}]]
    } else {
	set hdr [binary format ccS [expr {$fin | $op}] [expr {$mask | 126}] $len]
    }
    if {$mask} {
	append hdr [binary format c4 {0 0 0 0}]
    }
    return $hdr$data
}

# stress::ResetLater --
#	Closes a socket that stopped reading (a reset if input is pending).

proc ::stress::ResetLater {sock} {
    catch {close $sock}
}

#----------------------------------------------------------------------
# Rounds.
#----------------------------------------------------------------------

# stress::newChild --
#	A child interpreter with the package loaded and the agent in it.

proc ::stress::newChild {} {
    variable children
    set i [interp create]
    $i eval [list set ::auto_path $::auto_path]
    $i eval {package require multiplexer}
    foreach cmd {rnd count caught enter leave enterLoop leaveLoop addPort addWsPort
	    addTlsPort tlsFiles linkPort hostAct vwaitTimer skips} {
	interp alias $i ::stress::$cmd {} ::stress::$cmd
    }
    $i eval $::stress::agent
    lappend children $i
    count child
    return $i
}

# stress::serve --
#	Serves events for ms milliseconds (bounded: the timer always fires).

proc ::stress::serve {ms} {
    variable tick
    set id [after $ms [list set ::stress::tick [incr tick]]]
    vwait ::stress::tick
    after cancel $id
}

# stress::fdCount --
#	Open socket descriptors of the process (Linux), or -1. Other kinds
#	are left out: the package's poller and Tcl's notifier open theirs
#	once, when first needed, and keep them.

proc ::stress::fdCount {} {
    if {[catch {glob -nocomplain /proc/self/fd/*} fds] || ![llength $fds]} {
	return -1
    }
    set n 0
    foreach f $fds {
	if {![catch {file readlink $f} l] && [string match socket:* $l]} {
	    incr n
	}
    }
    return $n
}

# stress::SkipOpt --
#	" -skip '...'" when -skip was given, for replay lines.

proc ::stress::SkipOpt {} {
    variable opt
    if {![llength $opt(-skip)]} {
	return ""
    }
    # Quoted for a shell (and for make STRESS_FLAGS="...").
    return " -skip '[join $opt(-skip)]'"
}

# stress::fail --
#	Reports a failure with what replays it and exits.

proc ::stress::fail {status msg} {
    variable opt
    variable round
    puts "stress: FAIL seed $opt(-seed) round $round: $msg"
    puts "stress: replay: tclsh tools/stress.tcl -seed $opt(-seed) -round $round -rounds 1[SkipOpt]"
    flush stdout
    if {[info exists ::stress::tlsDir]} {
	file delete -force $::stress::tlsDir
    }
    exit $status
}

# stress::runRound --
#	One round: instances, clients, random actions; then everything is
#	torn down and the leftovers checked.

proc ::stress::runRound {} {
    variable opt
    variable round
    variable children {}
    variable ports {}
    variable wsPorts {}
    variable tlsPorts {}
    variable linked 0
    variable depth 0
    variable loopDepth 0
    variable clients
    variable raws
    variable sinkSocks
    expr {srand(($opt(-seed) * 1000003 + $round) & 0x7fffffff)}
    ::sa::reset

    # Instances: in this interpreter or in child interpreters.
    set n [expr {1 + [rnd 3]}]
    for {set k 0} {$k < $n} {incr k} {
	if {[rnd 3] == 0} {
	    set i [newChild]
	    catch {$i eval ::sa::create}
	} else {
	    catch {::sa::create}
	}
    }
    if {$opt(-inject) eq "hang" && $round == $opt(-round)} {
	# For testing the watchdog: block the event loop.
	after [expr {($opt(-watchdog) + 30) * 1000}]
    }

    # Ticks: client actions, agent actions from the top level, events.
    set ticks [expr {20 + [rnd 80]}]
    for {set t 0} {$t < $ticks} {incr t} {
	for {set j [rnd 3]} {$j >= 0} {incr j -1} {
	    clientAction
	}
	if {[rnd 4] == 0} {
	    set live [linsert [lsearch -all -inline $children *] 0 {}]
	    set i [lindex $live [rnd [llength $live]]]
	    if {[interp exists $i]} {
		catch {interp eval $i {::sa::act "" ""}}
	    }
	}
	serve [rnd 12]
    }

    # Teardown: clients first or instances first, at random.
    if {[rnd 2]} {
	CloseClients
    }
    catch {::sa::teardown}
    foreach i $children {
	if {[interp exists $i]} {
	    if {[rnd 2]} {
		catch {$i eval ::sa::teardown}
	    }
	    # Its exit filters may have deleted it meanwhile.
	    if {[interp exists $i]} {
		interp delete $i
	    }
	}
    }
    set children {}
    # A child's exit filters may have acted here (stress::hostAct).
    catch {::sa::teardown}
    CloseClients
    foreach s [array names sinkSocks] {
	catch {close $s}
    }
    array unset sinkSocks
    # Let rawclients end (each runs under a second) and lingering
    # sockets close (linger is at most 300 ms).
    set deadline [expr {[clock milliseconds] + 10000}]
    while {([llength $raws] || [fdCount] > $::stress::fdBase)
	    && [clock milliseconds] < $deadline} {
	serve 20
    }
    foreach p $raws {
	catch {close $p}
    }
    set raws {}
    CheckLeftovers
}

# stress::CloseClients --
#	Closes every driver client socket.

proc ::stress::CloseClients {} {
    variable clients
    foreach s [array names clients] {
	catch {close $s}
    }
    array unset clients
}

# stress::CheckLeftovers --
#	After a round: no instance, no package channel, no extra descriptor.

proc ::stress::CheckLeftovers {} {
    variable fdBase
    set left [namespace children ::multiplexer]
    if {[llength $left]} {
	fail 1 "instances left after the round: $left"
    }
    set chans [lsearch -all -inline -regexp [chan names] {^mp(sock|listen)}]
    if {[llength $chans]} {
	fail 1 "package channels left after the round: $chans"
    }
    set fds [fdCount]
    if {$fds > $fdBase} {
	set what {}
	foreach f [lsort -dictionary [glob -nocomplain /proc/self/fd/*]] {
	    catch {lappend what [file tail $f]:[file readlink $f]}
	}
	fail 1 "descriptors left after the round: $fds open, $fdBase at\
	    start: $what"
    }
}

#----------------------------------------------------------------------
# Watchdog.
#----------------------------------------------------------------------

# stress::startWatchdog --
#	A thread that kills the process when the current round has run
#	longer than -watchdog seconds; without package Thread, a timer.

proc ::stress::startWatchdog {} {
    variable opt
    variable watchThread
    if {[catch {package require Thread}]} {
	return
    }
    tsv::set stress beat [clock milliseconds]
    tsv::set stress where "seed $opt(-seed) round 0"
    tsv::set stress skip [SkipOpt]
    tsv::set stress stop 0
    set watchThread [thread::create -joinable [list apply {{limit pid} {
	while {![tsv::get stress stop]} {
	    after 200
	    set idle [expr {[clock milliseconds] - [tsv::get stress beat]}]
	    if {$idle > $limit * 1000} {
		puts "stress: FAIL [tsv::get stress where]: hang, no progress\
		    for $limit s (watchdog)"
		puts "stress: replay: tclsh tools/stress.tcl\
		    [string map {seed -seed round -round} [tsv::get stress where]]\
		    -rounds 1[tsv::get stress skip]"
		flush stdout
		# Status 3 from a thread: the main thread may be stuck.
		catch {exec kill -TERM $pid}
		after 2000
		catch {exec kill -KILL $pid}
	    }
	}
    }} $opt(-watchdog) [pid]]]
}

# stress::beat --
#	Tells the watchdog a round starts.

proc ::stress::beat {} {
    variable opt
    variable round
    variable watchThread
    variable watchTimer
    if {$watchThread ne ""} {
	tsv::set stress beat [clock milliseconds]
	tsv::set stress where "seed $opt(-seed) round $round"
	return
    }
    after cancel $watchTimer
    set watchTimer [after [expr {$opt(-watchdog) * 1000}] \
	[list ::stress::fail 3 "hang: round longer than $opt(-watchdog) s (watchdog)"]]
}

# stress::stopWatchdog --
#	Ends the watchdog thread or timer.

proc ::stress::stopWatchdog {} {
    variable watchThread
    variable watchTimer
    after cancel $watchTimer
    if {$watchThread ne ""} {
	tsv::set stress stop 1
	thread::join $watchThread
	set watchThread {}
    }
}

#----------------------------------------------------------------------
# Main.
#----------------------------------------------------------------------

proc ::stress::usage {msg} {
    puts stderr "stress.tcl: $msg"
    puts stderr "usage: tclsh stress.tcl ?-seed N? ?-seconds S? ?-rounds R?\
	?-round FIRST? ?-watchdog S? ?-verbose 0|1? ?-skip LIST?\
	?-progress FILE? ?-inject hang?"
    exit 2
}

proc ::stress::main {argv} {
    variable opt
    variable round
    variable rawclient
    variable sinkPort
    variable deadPort
    variable fdBase
    variable counts
    variable errors
    if {[llength $argv] % 2} {
	usage "options come in pairs"
    }
    foreach {k v} $argv {
	if {![info exists opt($k)]} {
	    usage "unknown option $k"
	}
	set opt($k) $v
    }
    if {$opt(-seed) eq ""} {
	set opt(-seed) [expr {[clock microseconds] % 1000000000}]
    }
    foreach k {-seed -seconds -rounds -round -watchdog} {
	if {![string is wide -strict $opt($k)] || $opt($k) < 0} {
	    usage "$k needs a non-negative integer"
	}
    }
    if {$opt(-inject) ni {{} hang}} {
	usage "-inject takes hang"
    }
    puts "stress: seed $opt(-seed) seconds $opt(-seconds) rounds $opt(-rounds)\
	first round $opt(-round)"
    flush stdout

    if {[info exists ::env(MP_BUILD_DIR)] && $::env(MP_BUILD_DIR) ne ""} {
	set ::auto_path [linsert $::auto_path 0 $::env(MP_BUILD_DIR)]
    }
    package require multiplexer
    if {[info exists ::env(MP_HELPER_DIR)]} {
	set f [file join $::env(MP_HELPER_DIR) rawclient]
	if {[file executable $f]} {
	    set rawclient $f
	}
    }
    eval $::stress::agent

    # A throw-away certificate for TLS listeners, if openssl is here.
    variable tlsFiles
    if {[auto_execok openssl] ne ""} {
	set dir [file join [expr {[info exists ::env(TMPDIR)]
	    ? $::env(TMPDIR) : "/tmp"}] mpstress-[pid]]
	file mkdir $dir
	if {![catch {exec openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=localhost -keyout $dir/key.pem \
		-out $dir/cert.pem 2>@1}]} {
	    set tlsFiles [list $dir/cert.pem $dir/key.pem]
	}
	# Read at Init time only: the files can go when the process does.
	set ::stress::tlsDir $dir
    }

    # The sink server, and a port nobody listens on.
    set srv [socket -server ::stress::SinkAccept -myaddr 127.0.0.1 0]
    set sinkPort [lindex [fconfigure $srv -sockname] 2]
    set tmp [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set deadPort [lindex [fconfigure $tmp -sockname] 2]
    close $tmp
    set fdBase [fdCount]

    startWatchdog
    set start [clock milliseconds]
    set end [expr {$start + $opt(-seconds) * 1000}]
    set round $opt(-round)
    set done 0
    while {1} {
	if {$opt(-rounds) > 0 ? $done >= $opt(-rounds)
		: [clock milliseconds] >= $end && $done > 0} {
	    break
	}
	beat
	if {$opt(-progress) ne ""} {
	    # For the caller, should the process die in this round.
	    set f [open $opt(-progress) w]
	    puts $f "-seed $opt(-seed) -round $round -rounds 1[SkipOpt]"
	    close $f
	}
	if {$opt(-verbose)} {
	    puts "stress: round $round"
	    flush stdout
	}
	if {[catch {runRound} msg]} {
	    fail 4 "error in the driver: $::errorInfo"
	}
	incr done
	incr round
    }
    stopWatchdog
    close $srv
    set secs [expr {([clock milliseconds] - $start) / 1000.0}]
    set actions 0
    foreach k [array names counts] {
	incr actions $counts($k)
    }
    if {$opt(-verbose)} {
	foreach k [lsort [array names counts]] {
	    puts [format "  %-22s %d" $k $counts($k)]
	}
	puts "  errors caught:"
	foreach k [lsort [array names errors]] {
	    puts [format "  %-40s %d" $k $errors($k)]
	}
    }
    puts "stress: ok seed $opt(-seed) rounds $done\
	([expr {$opt(-round)}]..[expr {$round - 1}]) seconds\
	[format %.1f $secs] events $actions"
    flush stdout
}

::stress::main $::argv
if {[info exists ::stress::tlsDir]} {
    file delete -force $::stress::tlsDir
}
exit 0
