#!/usr/bin/env tclsh
# format.tcl --
#
#	Renders the manual page doc/multiplexer.n from doc/multiplexer.man
#	with tcllib's doctools package (Debian: apt-get install tcllib).
#
#	tclsh doc/format.tcl ?-format nroff|html|text|markdown? ?-o file?
#
#	Without options it writes doc/multiplexer.n next to this script.
#	Any doctools warning is printed and makes the script fail, so the
#	committed page always comes from a clean source.

package require Tcl 8.6
if {[catch {package require doctools} err]} {
    puts stderr "format.tcl: tcllib's doctools package is needed ($err);\
	    on Debian: apt-get install tcllib"
    exit 2
}

set here [file dirname [file normalize [info script]]]
set source [file join $here multiplexer.man]
set format nroff
set output ""

foreach {option value} $argv {
    switch -- $option {
	-format { set format $value }
	-o { set output $value }
	default {
	    puts stderr "usage: tclsh format.tcl ?-format nroff|html|text|markdown? ?-o file?"
	    exit 2
	}
    }
}
if {$output eq ""} {
    set ext [dict get {nroff n html html text txt markdown md} $format]
    set output [file join $here multiplexer.$ext]
}

set f [open $source r]
fconfigure $f -encoding utf-8
set text [read $f]
close $f

::doctools::new formatter -format $format -file $source
if {[catch {formatter format $text} result]} {
    puts stderr "format.tcl: $source: $result"
    exit 1
}
set warnings [formatter warnings]
formatter destroy

if {[llength $warnings]} {
    foreach w $warnings {
	puts stderr "format.tcl: warning: $w"
    }
    exit 1
}

set f [open $output w]
fconfigure $f -encoding utf-8 -translation lf
puts -nonewline $f $result
close $f
puts "format.tcl: wrote $output"
