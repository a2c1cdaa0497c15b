# all.tcl --
#
#	Runs the multiplexer test suite: every tests/*.test file.
#
#	    tclsh tests/all.tcl ?tcltest options?
#
#	Any tcltest option may be given, e.g. -file client.test, -match
#	name*, -verbose bpe, -constraints ..., -singleproc 1.  Works from
#	any directory.  If the environment variable MP_BUILD_DIR is set,
#	that directory goes first on auto_path (here and in the child
#	processes, through TCLLIBPATH), so the package just built is the one
#	tested.
#
#	By default each test file runs in its own tclsh process; the totals
#	come from the "Total" line each one prints.  With -singleproc 1 the
#	files are sourced into this interpreter instead (for valgrind and
#	gdb).  A file that cannot be run to the end (error while sourcing,
#	crash, sanitizer report, non-zero exit status, no totals printed)
#	counts as one failed test.
#
#	The last line printed is always
#	    N passed, N failed, N skipped
#	and the exit status is 1 if anything failed, else 0.
#
#	Environment:
#	    MP_BUILD_DIR	directory with the built package (optional)
#	    MP_TEST_TIMEOUT	seconds one test file may take in a child
#				process before it is killed and counted as
#				failed (default 900; 0 = no limit)

package require Tcl 8.6-

namespace eval ::mpRunner {
    variable testsDir [file dirname [file normalize [info script]]]
    variable passed 0
    variable failed 0
    variable skipped 0
    variable total 0
    variable fileErrors {}	;# Test files that did not run to the end.
    variable failFiles {}	;# Test files with failed tests.
}

# Summary --
#	Prints the closing line and exits.

proc ::mpRunner::Summary {{extraFailed 0}} {
    variable passed
    variable failed
    variable skipped
    variable fileErrors
    variable failFiles
    incr failed $extraFailed
    if {[llength $failFiles]} {
	puts "Files with failed tests: [join $failFiles { }]"
    }
    if {[llength $fileErrors]} {
	puts "Test files that did not complete: [join $fileErrors { }]"
    }
    puts "$passed passed, $failed failed, $skipped skipped"
    flush stdout
    exit [expr {$failed > 0 ? 1 : 0}]
}

# Put the build directory first on the package path, for this interpreter
# and for every child tclsh (through TCLLIBPATH).

if {[info exists ::env(MP_BUILD_DIR)] && $::env(MP_BUILD_DIR) ne ""} {
    set ::mpRunner::buildDir [file normalize $::env(MP_BUILD_DIR)]
    set ::auto_path [linsert [lsearch -all -inline -not -exact \
	    $::auto_path $::mpRunner::buildDir] 0 $::mpRunner::buildDir]
    set ::mpRunner::libPath {}
    if {[info exists ::env(TCLLIBPATH)]
	    && [string is list $::env(TCLLIBPATH)]} {
	set ::mpRunner::libPath $::env(TCLLIBPATH)
    }
    set ::env(TCLLIBPATH) [linsert [lsearch -all -inline -not -exact \
	    $::mpRunner::libPath $::mpRunner::buildDir] \
	    0 $::mpRunner::buildDir]
}

package require tcltest 2.5

if {[catch {
    tcltest::configure -testdir $::mpRunner::testsDir
    if {[llength $::argv]} {
	tcltest::configure {*}$::argv
    }
} msg]} {
    puts stderr "all.tcl: $msg"
    puts stderr "usage: tclsh all.tcl ?tcltest options? (see the tcltest manual)"
    ::mpRunner::Summary 1
}
set ::argv {}

# Options to hand on to the child processes: those not at their defaults,
# as tcltest's own runAllTests does, less the ones that concern this
# process only.

proc ::mpRunner::ChildArgs {} {
    set args {}
    foreach opt [tcltest::configure] {
	if {$opt in {-outfile -errfile -singleproc}} {
	    continue
	}
	set value [tcltest::configure $opt]
	if {[info exists ::tcltest::DefaultValue($opt)]
		&& $value eq $::tcltest::DefaultValue($opt)} {
	    continue
	}
	lappend args $opt $value
    }
    return $args
}

# RunChild --
#	Runs one test file in a child tclsh, echoing its output and taking
#	the totals from its "Total" line.  Returns a list: ok total passed
#	skipped failed status-message.

proc ::mpRunner::RunChild {file} {
    variable child
    set cmd [list | [info nameofexecutable] $file {*}[ChildArgs] 2>@1]
    if {[catch {open $cmd r} chan]} {
	return [list 0 0 0 0 0 "cannot start: $chan"]
    }
    fconfigure $chan -blocking 0 -buffering line -translation auto
    array unset child
    set child(chan) $chan
    set child(done) 0
    set child(counts) {}
    set child(timedOut) 0
    set timeout 900
    if {[info exists ::env(MP_TEST_TIMEOUT)]
	    && [string is integer -strict $::env(MP_TEST_TIMEOUT)]} {
	set timeout $::env(MP_TEST_TIMEOUT)
    }
    set timer {}
    if {$timeout > 0} {
	set timer [after [expr {$timeout * 1000}] [list ::mpRunner::Kill $chan]]
    }
    fileevent $chan readable [list ::mpRunner::ChildOutput $chan]
    vwait ::mpRunner::child(done)
    after cancel $timer

    fconfigure $chan -blocking 1
    set status ok
    if {[catch {close $chan} msg opts]} {
	set code [dict get $opts -errorcode]
	switch -- [lindex $code 0] {
	    CHILDSTATUS {set status "exit status [lindex $code 2]"}
	    CHILDKILLED {set status "killed by [lindex $code 2]"}
	    default     {set status "error: $msg"}
	}
    }
    if {$child(timedOut)} {
	set status "timed out after $timeout s ($status)"
    }
    if {[llength $child(counts)] == 0} {
	if {$status eq "ok"} {
	    set status "no totals printed"
	}
	return [list 0 0 0 0 0 $status]
    }
    lassign $child(counts) total passed skipped failed
    return [list [expr {$status eq "ok"}] $total $passed $skipped $failed \
	    $status]
}

proc ::mpRunner::ChildOutput {chan} {
    variable child
    while {[gets $chan line] >= 0} {
	if {[regexp {^[^:]+:\s+Total\s+(\d+)\s+Passed\s+(\d+)\s+Skipped\s+(\d+)\s+Failed\s+(\d+)\s*$} \
		$line -> t p s f]} {
	    set child(counts) [list $t $p $s $f]
	}
	puts $line
    }
    if {[eof $chan]} {
	fileevent $chan readable {}
	set child(done) 1
    }
}

proc ::mpRunner::Kill {chan} {
    variable child
    set child(timedOut) 1
    puts "all.tcl: test file timed out; killing it"
    foreach p [pid $chan] {
	catch {exec /bin/sh -c "kill -KILL $p"}
    }
    # Stop waiting even if a grandchild still holds the pipe open.
    fileevent $chan readable {}
    set child(done) 1
}

# RunSourced --
#	Sources one test file into this interpreter (-singleproc 1).

proc ::mpRunner::RunSourced {file} {
    foreach k {Total Passed Skipped Failed} {
	set before($k) $::tcltest::numTests($k)
    }
    set ::tcltest::testSingleFile false
    set code [catch {uplevel #0 [list source $file]} msg]
    foreach k {Total Passed Skipped Failed} {
	set n($k) [expr {$::tcltest::numTests($k) - $before($k)}]
    }
    set status ok
    if {$code == 1} {
	set status "error: $msg"
	puts "Test file error: $msg"
    }
    return [list [expr {$code != 1}] $n(Total) $n(Passed) $n(Skipped) \
	    $n(Failed) $status]
}

# Main.

set ::mpRunner::files [lsort [tcltest::getMatchingFiles]]
puts "Tests in:     $::mpRunner::testsDir"
puts "Interpreter:  [info nameofexecutable] (Tcl [info patchlevel])"
if {[info exists ::mpRunner::buildDir]} {
    puts "Package from: $::mpRunner::buildDir"
}
puts "Mode:         [expr {[tcltest::singleProcess] ? {single process} : {one process per file}}]"
flush stdout

if {[llength $::mpRunner::files] == 0} {
    puts "all.tcl: no test files to run"
    ::mpRunner::Summary 1
}

foreach ::mpRunner::file $::mpRunner::files {
    set ::mpRunner::tail [file tail $::mpRunner::file]
    puts "---- $::mpRunner::tail"
    flush stdout
    set ::mpRunner::started [clock milliseconds]
    if {[tcltest::singleProcess]} {
	set ::mpRunner::res [::mpRunner::RunSourced $::mpRunner::file]
    } else {
	set ::mpRunner::res [::mpRunner::RunChild $::mpRunner::file]
    }
    lassign $::mpRunner::res ok t p s f status
    puts [format "---- %s took %.1f s" $::mpRunner::tail \
	    [expr {([clock milliseconds] - $::mpRunner::started) / 1000.0}]]
    incr ::mpRunner::total $t
    incr ::mpRunner::passed $p
    incr ::mpRunner::skipped $s
    incr ::mpRunner::failed $f
    if {$f > 0} {
	lappend ::mpRunner::failFiles $::mpRunner::tail
    }
    if {!$ok} {
	puts "all.tcl: $::mpRunner::tail did not complete: $status\
		(counted as 1 failed test)"
	incr ::mpRunner::failed
	lappend ::mpRunner::fileErrors $::mpRunner::tail
    }
    flush stdout
}
unset -nocomplain t p s f ok status

::mpRunner::Summary
