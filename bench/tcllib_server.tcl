# tcllib_server.tcl -- tcllib's pure-Tcl multiplexer 0.2 under benchmark.
#
#   tclsh tcllib_server.tcl
#
# Must load tcllib's package, not ours: our build directory ($MP_BUILD_DIR,
# $TCLLIBPATH) is removed from auto_path before `package require -exact
# multiplexer 0.2`, and the script refuses to run if what it loaded is not
# tcllib's.  tcllib's Init takes only a port (it listens on all
# interfaces); the port is read from the listening socket with
# `fconfigure -sockname` and printed on stdout as the first line.

proc norm {p} {
    if {[catch {file normalize $p} n]} {return $p}
    return $n
}
set ours {}
foreach v {MP_BUILD_DIR TCLLIBPATH} {
    if {[info exists env($v)]} {
	foreach p $env($v) {lappend ours [norm $p]}
    }
}
set keep {}
foreach p $auto_path {
    if {[norm $p] ni $ours} {lappend keep $p}
}
set auto_path $keep

package require -exact multiplexer 0.2
set where [package ifneeded multiplexer 0.2]
if {[info commands ::multiplexer::build-info] ne ""
	|| ![string match *tcllib* $where]} {
    puts stderr "tcllib_server: loaded the wrong multiplexer: $where"
    exit 1
}
puts stderr "tcllib_server: multiplexer 0.2 from $where"

set mp [::multiplexer::create]
set sock [${mp}::Init 0]
puts [lindex [fconfigure $sock -sockname] 2]
flush stdout
vwait forever
