# redis.tcl --
#
#	Helpers for the cluster tests: real redis-server processes and real
#	cluster node processes (child tclsh running the package).
#	Sourced after common.tcl.
#
#	::redist   a redis-server started by the test on a free port of
#		   127.0.0.1 (or inside a network namespace), without
#		   persistence, in a temporary directory that is removed with
#		   it; stop (TERM or KILL), restart on the same port, commands
#		   in RESP over a Tcl socket.
#	::cnode    node processes: a child tclsh that loads the package under
#		   test, creates an instance with Init 0 -myaddr 127.0.0.1,
#		   prints its client port and then evaluates the scripts the
#		   test writes to its standard input, one reply line each.
#
#	External programs (redis-server, redis-cli, ip, sh) always run
#	through `env -u LD_PRELOAD`, so that make test-asan's preloaded
#	sanitizer runtime stays out of them and valgrind (whose
#	--trace-children-skip lists */env) does not trace them. Node
#	processes are started like every other child tclsh of the suite
#	([info nameofexecutable], inheriting TCLLIBPATH and MP_BUILD_DIR):
#	they load the build under test, under ASan and valgrind too.

namespace eval ::redist {
    variable helperDir [file dirname [file normalize [info script]]]
    variable servers {}		;# Handles of the servers still known.
    variable counter 0
    variable srv		;# handle,key -> value
    array set srv {}
}

namespace eval ::cnode {
    variable nodes {}		;# Handles of the nodes still known.
    variable counter 0
    variable node		;# handle,key -> value
    array set node {}
}

# Tests that need redis-server skip without it (and without redis-cli,
# which the namespace tests use).
testConstraint redis [expr {[auto_execok redis-server] ne ""
	&& [auto_execok redis-cli] ne ""}]

# redist::slow --
#	A factor for the bounds of waits: the node processes run under
#	valgrind (about fifty times slower) in make test-valgrind, and under
#	ASan in make test-asan. The waits end as soon as their condition
#	holds; the factor only keeps a slow build from failing a bound.

proc ::redist::slow {} {
    if {[info exists ::env(LD_PRELOAD)]} {
	if {[string match *vgpreload* $::env(LD_PRELOAD)]} {
	    return 20
	}
	if {[string match *asan* $::env(LD_PRELOAD)]} {
	    return 3
	}
    }
    return 1
}

proc ::redist::ms {ms} {
    expr {$ms * [slow]}
}

# redist::envcmd --
#	The prefix that runs an external program without the sanitizer
#	preload (and untraced by valgrind).

proc ::redist::envcmd {} {
    list env -u LD_PRELOAD
}

# redist::tmpdir --
#	A new private temporary directory.

proc ::redist::tmpdir {prefix} {
    variable counter
    set tmp /tmp
    if {[info exists ::env(TMPDIR)] && [file isdirectory $::env(TMPDIR)]} {
	set tmp $::env(TMPDIR)
    }
    set dir [file join $tmp $prefix-[::pid]-[incr counter]-[clock milliseconds]]
    file mkdir $dir
    file attributes $dir -permissions 0700
    return $dir
}

# redist::freePort --
#	A TCP port of 127.0.0.1 that was free a moment ago (bound with port
#	0, read, closed).

proc ::redist::freePort {} {
    set s [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $s -sockname] 2]
    close $s
    return $port
}

# The shell that runs a redis-server: it prints "pid N" (the server's
# own pid: env and ip netns exec replace themselves with it), kills the
# server with SIGKILL when its standard input ends (so a test process
# that dies, even by SIGKILL, leaves no server behind), and prints
# "exit STATUS" when the server ends. $1 is the file for the server's
# own output; the rest is the command.
set ::redist::wrapper {
    out=$1; shift
    exec 3<&0
    "$@" </dev/null >>"$out" 2>&1 &
    p=$!
    echo "pid $p"
    { read x <&3; kill -9 $p 2>/dev/null; } &
    w=$!
    wait $p
    echo "exit $?"
    kill $w 2>/dev/null
}

# redist::start --
#	Starts a redis-server and waits (bounded) until it answers PING.
#	Options:
#	    -config {name {value ...} ...}   extra configuration directives
#					     (redis.conf lines: name and
#					     the words of value), e.g.
#					     {requirepass pw}
#	    -auth {user password}	     what the helper's own commands
#					     authenticate with (user may be
#					     "default"); none by default
#	    -netns NS -bind ADDR -port N     run inside network namespace NS
#					     (the helper's commands then go
#					     through redis-cli in NS)
#	A redis-server that does not come up (e.g. the free port was taken
#	in between) is tried again on another port, three times in all.
#	Returns a handle; raises an error if the server never answered.

proc ::redist::start {args} {
    variable servers
    variable srv
    variable counter
    array set o {-config {} -auth {} -netns {} -bind 127.0.0.1 -port {}}
    foreach {k v} $args {
	if {![info exists o($k)]} {
	    return -code error "redist::start: unknown option $k"
	}
	set o($k) $v
    }
    set h redis[incr counter]
    set srv($h,dir) [tmpdir mpredis]
    set srv($h,config) $o(-config)
    set srv($h,auth) $o(-auth)
    set srv($h,netns) $o(-netns)
    set srv($h,bind) $o(-bind)
    set srv($h,pipe) {}
    set srv($h,pid) {}
    set srv($h,exit) {}
    lappend servers $h
    set err ""
    for {set try 0} {$try < 3} {incr try} {
	if {$o(-port) ne ""} {
	    set srv($h,port) $o(-port)
	} elseif {$o(-netns) ne ""} {
	    # A namespace of the test's own: no other listener there.
	    set srv($h,port) 6379
	} else {
	    set srv($h,port) [freePort]
	}
	if {[Launch $h] && [waitPing $h [ms 10000]]} {
	    return $h
	}
	set err "redis-server did not answer PING on port $srv($h,port):\
		[string trim [tail $h]]"
	kill $h KILL
	if {$o(-port) ne ""} {
	    break
	}
    }
    return -code error $err
}

# redist::Launch --
#	Starts the server of handle h on its port (through the wrapper
#	shell). Returns 1 once the server's pid is known.

proc ::redist::Launch {h} {
    variable srv
    variable wrapper
    set dir $srv($h,dir)
    # The configuration goes in a file: words such as ">password" (an ACL
    # rule) cannot be arguments of exec, which takes them for
    # redirections.
    set conf "port $srv($h,port)\nbind $srv($h,bind)\nsave \"\"\n"
    append conf "appendonly no\ndir $dir\nlogfile [file join $dir redis.log]\n"
    append conf "daemonize no\nprotected-mode no\n"
    foreach {name value} $srv($h,config) {
	append conf "$name [join $value { }]\n"
    }
    set f [open [file join $dir redis.conf] w]
    puts -nonewline $f $conf
    close $f
    set cmd [list redis-server [file join $dir redis.conf]]
    if {$srv($h,netns) ne ""} {
	set cmd [list ip netns exec $srv($h,netns) {*}$cmd]
    }
    set srv($h,exit) {}
    set srv($h,pid) {}
    set pipe [open |[list {*}[envcmd] sh -c $wrapper sh \
	    [file join $dir redis.out] {*}$cmd] r+]
    fconfigure $pipe -blocking 0 -buffering line
    set srv($h,pipe) $pipe
    fileevent $pipe readable [list ::redist::Output $h $pipe]
    mptest::wait {$::redist::srv($h,pid) ne "" || $::redist::srv($h,exit) ne ""} \
	    [ms 5000]
    expr {$srv($h,pid) ne ""}
}

proc ::redist::Output {h pipe} {
    variable srv
    while {[gets $pipe line] >= 0} {
	switch -- [lindex $line 0] {
	    pid  {set srv($h,pid) [lindex $line 1]}
	    exit {set srv($h,exit) [lindex $line 1]}
	}
    }
    if {[eof $pipe]} {
	fileevent $pipe readable {}
	if {$srv($h,exit) eq ""} {
	    set srv($h,exit) eof
	}
    }
}

# redist::port, redist::pid, redist::addr, redist::url, redist::dir --

proc ::redist::port {h} {
    variable srv
    return $srv($h,port)
}

proc ::redist::pid {h} {
    variable srv
    return $srv($h,pid)
}

proc ::redist::addr {h} {
    variable srv
    return $srv($h,bind)
}

proc ::redist::dir {h} {
    variable srv
    return $srv($h,dir)
}

# redist::url --
#	redis://[user:password@]host:port for this server.

proc ::redist::url {h {user ""} {password ""}} {
    variable srv
    set cred ""
    if {$user ne "" || $password ne ""} {
	set cred $user:$password@
    }
    return redis://$cred$srv($h,bind):$srv($h,port)
}

# redist::running --
#	Whether the server process is still there.

proc ::redist::running {h} {
    variable srv
    expr {$srv($h,pid) ne "" && $srv($h,exit) eq ""}
}

# redist::log --
#	The server's log file (and what it printed before the log opened).

proc ::redist::log {h} {
    variable srv
    set text ""
    foreach f {redis.out redis.log} {
	set path [file join $srv($h,dir) $f]
	if {[file exists $path]} {
	    set ch [open $path r]
	    append text [read $ch]
	    close $ch
	}
    }
    return $text
}

proc ::redist::tail {h} {
    join [lrange [split [string trim [log $h]] \n] end-5 end] \n
}

# redist::signal --
#	Sends a signal (TERM, KILL, STOP, CONT ...) to the server.

proc ::redist::signal {h sig} {
    variable srv
    if {$srv($h,pid) ne "" && $srv($h,exit) eq ""} {
	catch {exec {*}[envcmd] kill -$sig $srv($h,pid)}
    }
}

# redist::kill --
#	Stops the server with SIGTERM (a clean shutdown) or SIGKILL and
#	waits (bounded) until it is gone. Returns 1 if it is gone.

proc ::redist::kill {h {sig TERM}} {
    variable srv
    if {$srv($h,pipe) eq ""} {
	return 1
    }
    signal $h CONT
    signal $h $sig
    set gone [mptest::wait {$::redist::srv($h,exit) ne ""} [ms 10000]]
    if {!$gone} {
	signal $h KILL
	set gone [mptest::wait {$::redist::srv($h,exit) ne ""} [ms 5000]]
    }
    # Closing the wrapper's input makes it kill whatever is left.
    catch {fconfigure $srv($h,pipe) -blocking 1}
    catch {close $srv($h,pipe)}
    set srv($h,pipe) {}
    return $gone
}

# redist::restart --
#	Starts the server again on the same port with the same
#	configuration (it must be stopped). Waits until it answers PING.

proc ::redist::restart {h} {
    variable srv
    kill $h KILL
    set deadline [expr {[clock milliseconds] + [ms 10000]}]
    while 1 {
	if {[Launch $h] && [waitPing $h [ms 5000]]} {
	    return $h
	}
	kill $h KILL
	if {[clock milliseconds] > $deadline} {
	    return -code error "redis-server did not restart on port\
		    $srv($h,port): [tail $h]"
	}
	mptest::pause 200
    }
}

# redist::stop --
#	Stops the server (SIGKILL) and removes its directory. The handle is
#	forgotten.

proc ::redist::stop {h} {
    variable srv
    variable servers
    if {![info exists srv($h,dir)]} {
	return
    }
    kill $h KILL
    catch {file delete -force $srv($h,dir)}
    array unset srv $h,*
    set servers [lsearch -all -inline -not -exact $servers $h]
}

# redist::cleanup --
#	Stops every server this file started.

proc ::redist::cleanup {} {
    variable servers
    foreach h $servers {
	stop $h
    }
}

# redist::waitPing --
#	Waits until the server answers PING with PONG or ms elapse.

proc ::redist::waitPing {h ms} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $deadline} {
	if {![running $h]} {
	    return 0
	}
	if {![catch {cmd $h PING} r] && $r eq "PONG"} {
	    return 1
	}
	mptest::pause 50
    }
    return 0
}

# redist::cmd --
#	Runs one command on the server and returns its reply: a simple or
#	bulk string, an integer, a list for an array, "" for a null. An
#	error reply raises an error with -errorcode {REDIS message}. The
#	helper authenticates first if the server was started with -auth.
#	Over 127.0.0.1 the helper speaks RESP itself on a Tcl socket, with
#	every wait bounded by ms; inside a namespace it runs redis-cli there.

proc ::redist::cmd {h args} {
    variable srv
    if {$srv($h,netns) ne ""} {
	return [CliCmd $h {*}$args]
    }
    set cmds {}
    if {[llength $srv($h,auth)] == 2} {
	lappend cmds [list AUTH {*}$srv($h,auth)]
    }
    lappend cmds $args
    set replies [rawCmds 127.0.0.1 $srv($h,port) $cmds [ms 5000]]
    set last [lindex $replies end]
    foreach r $replies {
	lassign $r kind value
	if {$kind eq "error"} {
	    return -code error -errorcode [list REDIS $value] $value
	}
    }
    return [lindex $last 1]
}

proc ::redist::CliCmd {h args} {
    variable srv
    set cli [list redis-cli -h $srv($h,bind) -p $srv($h,port)]
    if {[llength $srv($h,auth)] == 2} {
	lappend cli --user [lindex $srv($h,auth) 0] \
		--pass [lindex $srv($h,auth) 1] --no-auth-warning
    }
    set r [exec {*}[envcmd] timeout 10 ip netns exec $srv($h,netns) \
	    {*}$cli {*}$args 2>@1]
    if {[regexp {^(ERR|WRONGPASS|NOAUTH|NOPERM|Could not connect)} $r]} {
	return -code error -errorcode [list REDIS $r] $r
    }
    return $r
}

# redist::encode --
#	A command as a RESP array of bulk strings.

proc ::redist::encode {words} {
    set out "*[llength $words]\r\n"
    foreach w $words {
	set b [encoding convertto utf-8 $w]
	append out "\$[string length $b]\r\n$b\r\n"
    }
    return $out
}

# redist::parse --
#	Parses one RESP reply from buf at index i. Returns {kind value next}
#	(kind: status error integer bulk array null), or {} if buf does not
#	hold the whole reply yet.

proc ::redist::parse {buf i} {
    set eol [string first "\r\n" $buf $i]
    if {$eol < 0} {
	return {}
    }
    set type [string index $buf $i]
    set line [string range $buf [expr {$i + 1}] [expr {$eol - 1}]]
    set next [expr {$eol + 2}]
    switch -- $type {
	+ {return [list status $line $next]}
	- {return [list error $line $next]}
	: {return [list integer $line $next]}
	$ {
	    if {$line < 0} {
		return [list null {} $next]
	    }
	    set end [expr {$next + $line}]
	    if {[string length $buf] < $end + 2} {
		return {}
	    }
	    return [list bulk [string range $buf $next [expr {$end - 1}]] \
		    [expr {$end + 2}]]
	}
	* {
	    if {$line < 0} {
		return [list null {} $next]
	    }
	    set items {}
	    for {set k 0} {$k < $line} {incr k} {
		set r [parse $buf $next]
		if {$r eq {}} {
		    return {}
		}
		lappend items [lindex $r 1]
		set next [lindex $r 2]
	    }
	    return [list array $items $next]
	}
	default {
	    return -code error "redist: bad RESP reply [string range $buf $i $i+40]"
	}
    }
}

# redist::rawCmds --
#	Sends commands (a list of word lists) to host:port on one
#	connection and returns their replies as {kind value} pairs. Every
#	step is bounded by ms in all; raises an error on timeout, refusal or
#	EOF.

proc ::redist::rawCmds {host port cmds ms} {
    variable raw
    set s [socket -async $host $port]
    fconfigure $s -translation binary -blocking 0 -buffering none
    set key $s
    set raw($key) ""
    set raw($key,eof) 0
    fileevent $s readable [list ::redist::RawRead $s]
    set deadline [expr {[clock milliseconds] + $ms}]
    set replies {}
    set code [catch {
	foreach c $cmds {
	    append data [encode $c]
	}
	puts -nonewline $s $data
	set i 0
	while {[llength $replies] < [llength $cmds]} {
	    set r [parse $raw($key) $i]
	    if {$r ne {}} {
		lappend replies [lrange $r 0 1]
		set i [lindex $r 2]
		continue
	    }
	    if {$raw($key,eof)} {
		error "redist: connection to $host:$port closed"
	    }
	    set left [expr {$deadline - [clock milliseconds]}]
	    if {$left <= 0} {
		error "redist: no reply from $host:$port within $ms ms"
	    }
	    set have [string length $raw($key)]
	    mptest::wait {$::redist::raw($key,eof)
		|| [string length $::redist::raw($key)] > $have} $left
	}
    } msg opts]
    catch {close $s}
    unset -nocomplain raw($key) raw($key,eof)
    if {$code} {
	return -options $opts $msg
    }
    return $replies
}

proc ::redist::RawRead {s} {
    variable raw
    if {[catch {read $s} data]} {
	set raw($s,eof) 1
	fileevent $s readable {}
	return
    }
    append raw($s) $data
    if {[eof $s]} {
	set raw($s,eof) 1
	fileevent $s readable {}
    }
}

# =====================================================================
# Node processes.
# =====================================================================

# cnode::spawn --
#	Starts a node process without waiting for it. Options:
#	    -netns NS	run it inside network namespace NS
#	    -init {...}	more options for Init (after 0 -myaddr 127.0.0.1)
#	Returns a handle; cnode::ready waits for the node's port.

proc ::cnode::spawn {args} {
    variable nodes
    variable node
    variable counter
    array set o {-netns {} -init {}}
    foreach {k v} $args {
	if {![info exists o($k)]} {
	    return -code error "cnode::spawn: unknown option $k"
	}
	set o($k) $v
    }
    set h node[incr counter]
    set node($h,dir) [::redist::tmpdir mpnode]
    set node($h,netns) $o(-netns)
    set script [file join $::redist::helperDir clusternode.tcl]
    set tclsh [info nameofexecutable]
    set cmd [list $tclsh $script $o(-init)]
    if {$o(-netns) ne ""} {
	# ip runs without the sanitizer preload; the node gets it back.
	set pre {}
	if {[info exists ::env(LD_PRELOAD)]} {
	    set pre [list LD_PRELOAD=$::env(LD_PRELOAD)]
	}
	set cmd [list {*}[::redist::envcmd] ip netns exec $o(-netns) \
		env {*}$pre {*}$cmd]
    }
    set node($h,errfile) [file join $node($h,dir) stderr.txt]
    set pipe [open |[list {*}$cmd 2> $node($h,errfile)] r+]
    fconfigure $pipe -blocking 0 -buffering line -translation lf
    set node($h,pipe) $pipe
    set node($h,pid) [lindex [::pid $pipe] end]
    set node($h,port) {}
    set node($h,eof) 0
    set node($h,seq) 0
    set node($h,other) {}
    set node($h,status) {}
    lappend nodes $h
    fileevent $pipe readable [list ::cnode::Output $h]
    return $h
}

proc ::cnode::Output {h} {
    variable node
    set pipe $node($h,pipe)
    while {[gets $pipe line] >= 0} {
	if {[string is list $line] && [lindex $line 0] eq "@R"} {
	    lassign $line -> seq code result ecode
	    set node($h,reply,$seq) [list $code [unesc $result] [unesc $ecode]]
	} elseif {[regexp {^@PORT (\d+)$} $line -> port]} {
	    set node($h,port) $port
	} else {
	    lappend node($h,other) $line
	}
    }
    if {[eof $pipe]} {
	fileevent $pipe readable {}
	set node($h,eof) 1
    }
}

# cnode::esc, cnode::unesc --
#	Scripts and replies travel as one line each: backslash, newline and
#	carriage return escaped.

proc ::cnode::esc {s} {
    string map [list \\ \\\\ \n \\n \r \\r] $s
}

proc ::cnode::unesc {s} {
    string map [list \\\\ \\ \\n \n \\r \r] $s
}

# cnode::ready --
#	Waits (bounded) until the node printed its port. Returns 1 if it did.

proc ::cnode::ready {h {ms 20000}} {
    mptest::wait {$::cnode::node($h,port) ne "" || $::cnode::node($h,eof)} \
	    [::redist::ms $ms]
    expr {$::cnode::node($h,port) ne ""}
}

# cnode::start --
#	Starts n nodes side by side (same options as spawn) and waits for
#	them all. Returns their handles; raises an error if one did not
#	come up.

proc ::cnode::start {n args} {
    set hs {}
    for {set i 0} {$i < $n} {incr i} {
	lappend hs [spawn {*}$args]
    }
    foreach h $hs {
	if {![ready $h]} {
	    return -code error "node $h did not start: [stderr $h]"
	}
    }
    return $hs
}

# cnode::port, cnode::pid --

proc ::cnode::port {h} {
    variable node
    return $node($h,port)
}

proc ::cnode::pid {h} {
    variable node
    return $node($h,pid)
}

# cnode::stderr --
#	What the node wrote on its standard error so far (the package's
#	log when tcllib's logger is not there, sanitizer reports).

proc ::cnode::stderr {h} {
    variable node
    if {![file exists $node($h,errfile)]} {
	return ""
    }
    set ch [open $node($h,errfile) r]
    set text [read $ch]
    close $ch
    return $text
}

# cnode::send --
#	Sends a script to the node without waiting. Returns its sequence
#	number (for cnode::reply).

proc ::cnode::send {h script} {
    variable node
    set seq [incr node($h,seq)]
    puts $node($h,pipe) [list $seq [esc $script]]
    flush $node($h,pipe)
    return $seq
}

# cnode::reply --
#	Waits (bounded) for the reply to script number seq. Returns its
#	result, or raises the node's error (message and errorcode), or an
#	error {CNODE TIMEOUT} if the node did not answer in time.

proc ::cnode::reply {h seq {ms 10000}} {
    variable node
    mptest::wait {[info exists ::cnode::node($h,reply,$seq)]
	|| $::cnode::node($h,eof)} [::redist::ms $ms]
    if {![info exists node($h,reply,$seq)]} {
	set why [expr {$node($h,eof) ? "exited" : "did not answer"}]
	return -code error -errorcode {CNODE TIMEOUT} \
		"node $h $why (script $seq): [string range [stderr $h] end-400 end]"
    }
    lassign $node($h,reply,$seq) code result ecode
    unset node($h,reply,$seq)
    if {$code == 1} {
	return -code error -errorcode $ecode $result
    }
    return $result
}

# cnode::eval --
#	Evaluates a script at the node's global level ($mp is its instance)
#	and returns its result (errors are raised here with the node's
#	message and errorcode).

proc ::cnode::eval {h script {ms 10000}} {
    reply $h [send $h $script] $ms
}

# cnode::status --
#	The node's Cluster status, or one key of it.

proc ::cnode::status {h {key ""}} {
    set st [eval $h {${mp}::Cluster status}]
    if {$key eq ""} {
	return $st
    }
    dict get $st $key
}

# cnode::waitStatus --
#	Waits (bounded) until the expression holds for the node's status,
#	available in it as the dict $st. Returns 1 if it did.

proc ::cnode::waitStatus {h expr ms} {
    set deadline [expr {[clock milliseconds] + [::redist::ms $ms]}]
    while 1 {
	if {![catch {status $h} st] && [::apply [list st [list expr $expr]] $st]} {
	    return 1
	}
	if {[clock milliseconds] >= $deadline} {
	    return 0
	}
	mptest::pause 50
    }
}

# cnode::signal --

proc ::cnode::signal {h sig} {
    variable node
    if {$sig eq "KILL"} {
	# Killed on purpose: cnode::stop reports it as expected.
	set node($h,killed) 1
    }
    catch {exec {*}[::redist::envcmd] kill -$sig $node($h,pid)}
}

# cnode::alive --

proc ::cnode::alive {h} {
    variable node
    expr {!$node($h,eof)}
}

# cnode::stop --
#	Ends nodes: asks them to exit (quit 0), waits (bounded) and kills
#	what is left with SIGKILL. Returns, per node, how it ended: "exit 0"
#	for a clean exit, "killed by the test" for a node the test killed
#	with cnode::signal KILL, else "exit N" (86/87: a sanitizer report
#	under make test-asan; 1: a valgrind error) or "killed SIG" (a crash,
#	or no exit in time).

proc ::cnode::stop {args} {
    variable node
    variable nodes
    set hs {}
    foreach h $args {
	if {[info exists node($h,pipe)]} {
	    lappend hs $h
	}
    }
    foreach h $hs {
	if {!$node($h,eof)} {
	    signal $h CONT
	    catch {send $h {quit 0}}
	}
    }
    set deadline [expr {[clock milliseconds] + [::redist::ms 5000]}]
    foreach h $hs {
	mptest::wait {$::cnode::node($h,eof)} \
		[expr {max(1, $deadline - [clock milliseconds])}]
    }
    set result {}
    foreach h $hs {
	set killed [info exists node($h,killed)]
	if {!$node($h,eof)} {
	    catch {exec {*}[::redist::envcmd] kill -KILL $node($h,pid)}
	}
	set pipe $node($h,pipe)
	fileevent $pipe readable {}
	fconfigure $pipe -blocking 1
	set how "exit 0"
	if {[catch {close $pipe} msg opts]} {
	    set ec [dict get $opts -errorcode]
	    switch -- [lindex $ec 0] {
		CHILDSTATUS {set how "exit [lindex $ec 2]"}
		CHILDKILLED {set how "killed [lindex $ec 2]"}
		default     {set how "exit 0"}
	    }
	}
	if {$killed && $how eq "killed SIGKILL"} {
	    set how "killed by the test"
	}
	lappend result $how
	catch {file delete -force $node($h,dir)}
	array unset node $h,*
	set nodes [lsearch -all -inline -not -exact $nodes $h]
    }
    return $result
}

# cnode::cleanup --
#	Stops every node still known. Returns those that did not end
#	cleanly (see cnode::stop), as "handle: how".

proc ::cnode::cleanup {} {
    variable nodes
    set bad {}
    if {[llength $nodes]} {
	set hs $nodes
	foreach h $hs how [stop {*}$hs] {
	    if {$how ni {"exit 0" "killed by the test"}} {
		lappend bad "$h: $how"
	    }
	}
    }
    return $bad
}
