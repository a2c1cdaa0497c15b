# webdriver.tcl --
#
#	A small WebDriver client for the tests: starts chromedriver, which
#	starts headless Chromium, and speaks the W3C WebDriver protocol to it
#	over HTTP (Tcl's http package; replies decoded with tcllib's json).
#	Every request has a timeout and every wait a deadline. Sourced by
#	tests/webchat.test.

package require http
package require json

namespace eval ::wd {
    variable pid ""        ;# chromedriver's process (and process group)
    variable base ""       ;# http://127.0.0.1:PORT of chromedriver
    variable session ""    ;# the WebDriver session's URL prefix
    variable timeout 30000 ;# ms allowed for one request
}

# wd::programs --
#	Finds Chromium and chromedriver. Returns {chromium chromedriver} as
#	full paths, or "" if either is missing.

proc ::wd::programs {} {
    set chromium ""
    foreach name {chromium chromium-browser google-chrome} {
	set path [lindex [auto_execok $name] 0]
	if {$path ne ""} {
	    set chromium $path
	    break
	}
    }
    set driver [lindex [auto_execok chromedriver] 0]
    if {$chromium eq "" || $driver eq ""} {
	return ""
    }
    return [list $chromium $driver]
}

# wd::str --
#	A string as a JSON string literal (only ASCII is emitted: anything
#	else becomes a \u escape, so the request body is plain bytes).

proc ::wd::str {s} {
    set out "\""
    foreach c [split $s ""] {
	scan $c %c code
	if {$c eq "\"" || $c eq "\\"} {
	    append out \\ $c
	} elseif {$code < 0x20 || $code > 0x7e} {
	    append out [format \\u%04x $code]
	} else {
	    append out $c
	}
    }
    return "$out\""
}

# wd::obj --
#	A JSON object from key value pairs; the values are JSON already.

proc ::wd::obj {args} {
    set members {}
    foreach {k v} $args {
	lappend members "[str $k]:$v"
    }
    return "\{[join $members ,]\}"
}

# wd::arr --
#	A JSON array of JSON values.

proc ::wd::arr {args} {
    return "\[[join $args ,]\]"
}

# wd::request --
#	Sends one WebDriver command (method GET, POST or DELETE; path
#	relative to chromedriver's root; body a JSON text for POST) and
#	returns the "value" of the reply as a dict/list. A WebDriver error
#	or a timeout is raised as a Tcl error.

proc ::wd::request {method path {body ""}} {
    variable base
    variable timeout
    set opts [list -method $method -timeout $timeout -keepalive 0]
    if {$method eq "POST"} {
	if {$body eq ""} {
	    set body "{}"
	}
	lappend opts -type application/json -query $body
    }
    set tok [http::geturl $base$path {*}$opts]
    try {
	set status [http::status $tok]
	set code [http::ncode $tok]
	set data [http::data $tok]
    } finally {
	http::cleanup $tok
    }
    if {$status ne "ok"} {
	error "webdriver $method $path: $status"
    }
    if {[catch {json::json2dict $data} reply]} {
	error "webdriver $method $path: HTTP $code, not JSON: [string range $data 0 200]"
    }
    set value [dict get $reply value]
    if {$code != 200} {
	set msg $value
	catch {set msg "[dict get $value error]: [dict get $value message]"}
	error "webdriver $method $path: HTTP $code: [string range $msg 0 400]"
    }
    return $value
}

# wd::cmd --
#	A command of the current session: wd::cmd METHOD /path ?body?.

proc ::wd::cmd {method path {body ""}} {
    variable session
    request $method $session$path $body
}

# wd::start --
#	Starts chromedriver on a free port and a headless Chromium session
#	whose profile lives in dir, with extra command line arguments for
#	the browser. Returns nothing; raises an error (after cleaning up) if
#	the browser does not come up within ms.

proc ::wd::start {dir {ms 60000} {extra {}}} {
    variable pid
    variable base
    variable session
    lassign [programs] chromium driver
    # A free port for chromedriver: take one, give it back, pass it on.
    set s [socket -server {apply {args {}}} -myaddr 127.0.0.1 0]
    set port [lindex [fconfigure $s -sockname] 2]
    close $s
    set base http://127.0.0.1:$port
    # env clears the sanitizer preload of make test-asan (and valgrind's
    # --trace-children-skip lists it, so the browser runs natively);
    # setsid makes chromedriver a process group leader, so that stop can
    # end it with the browser processes it starts.
    set pid [exec env -u LD_PRELOAD -u ASAN_OPTIONS -u LSAN_OPTIONS \
	    -u UBSAN_OPTIONS setsid $driver --port=$port \
	    --log-path=[file join $dir chromedriver.log] \
	    >& [file join $dir chromedriver.out] &]
    set deadline [expr {[clock milliseconds] + $ms}]
    try {
	# Wait until chromedriver answers /status with ready.
	while 1 {
	    if {![catch {request GET /status} st]
		    && [dict exists $st ready] && [dict get $st ready]} {
		break
	    }
	    if {[clock milliseconds] > $deadline} {
		error "chromedriver did not become ready on port $port"
	    }
	    after 100
	}
	set args [arr {*}[lmap a [list --headless=new --no-sandbox \
		--disable-gpu --disable-dev-shm-usage --no-first-run \
		--no-default-browser-check --window-size=800,600 \
		--user-data-dir=[file join $dir profile] {*}$extra] {str $a}]]
	set caps [obj capabilities [obj alwaysMatch [obj \
		goog:chromeOptions [obj binary [str $chromium] args $args]]]]
	set session ""
	set value [request POST /session $caps]
	set session /session/[dict get $value sessionId]
    } on error {msg opts} {
	stop
	return -options $opts $msg
    }
    return
}

# wd::stop --
#	Ends the session and chromedriver, and whatever is left of the
#	browser's processes (the process group). Safe to call twice.

proc ::wd::stop {} {
    variable pid
    variable session
    variable timeout
    if {$session ne ""} {
	set saved $timeout
	set timeout 10000
	catch {request DELETE $session}
	set timeout $saved
	set session ""
    }
    if {$pid ne ""} {
	catch {exec kill -TERM -- -$pid}
	# Reap it (bounded: SIGKILL after 5 s).
	set deadline [expr {[clock milliseconds] + 5000}]
	while {![catch {exec kill -0 $pid}]
		&& [clock milliseconds] < $deadline} {
	    after 50
	}
	catch {exec kill -KILL -- -$pid}
	set pid ""
    }
}

# wd::newWindow --
#	Opens a new browser window and returns its handle (not switched to).

proc ::wd::newWindow {} {
    dict get [cmd POST /window/new [obj type [str window]]] handle
}

# wd::window --
#	Switches to a window by handle; without one, returns the current one.

proc ::wd::window {{handle ""}} {
    if {$handle eq ""} {
	return [cmd GET /window]
    }
    cmd POST /window [obj handle [str $handle]]
    return $handle
}

# wd::go --
#	Loads a URL in the current window (returns once it has loaded).

proc ::wd::go {url} {
    cmd POST /url [obj url [str $url]]
}

# wd::js --
#	Runs a script in the current window (the body of a function; its
#	arguments are given as JSON values) and returns what it returns.

proc ::wd::js {script args} {
    cmd POST /execute/sync [obj script [str $script] args [arr {*}$args]]
}

# wd::type --
#	Types text into the element the CSS selector finds, as key presses.
#	"\ue007" in text is the Enter key.

proc ::wd::type {selector text} {
    set el [cmd POST /element [obj using [str "css selector"] \
	    value [str $selector]]]
    # The element reference is the value of the reply's only key.
    set id [lindex $el 1]
    cmd POST /element/$id/value [obj text [str $text]]
}

# wd::screenshot --
#	Saves a PNG screenshot of the current window to file. Returns the
#	file name.

proc ::wd::screenshot {file} {
    set png [binary decode base64 [cmd GET /screenshot]]
    set f [open $file wb]
    puts -nonewline $f $png
    close $f
    return $file
}

# wd::until --
#	Runs the script in the current window every 100 ms until it returns
#	true or ms elapse, serving Tcl events meanwhile. Returns 1 if it did.

proc ::wd::until {script {ms 10000}} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while 1 {
	if {[string is true -strict [js $script]]} {
	    return 1
	}
	if {[clock milliseconds] >= $deadline} {
	    return 0
	}
	after 100 [list set ::wd::tick 1]
	vwait ::wd::tick
    }
}
