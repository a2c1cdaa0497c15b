# soak.tcl --
#
#	Server side of the soak test (bench/soak.sh): a line-framed
#	multiplexer instance on 127.0.0.1 under "overflow drop", in its own
#	tclsh process.
#
#	    tclsh soak.tcl STATSFILE ?MAXQUEUE?
#
#	Prints "port N" on stdout once listening. Every 500 ms it rewrites
#	STATSFILE (atomically, via a temporary file and rename) with one line:
#	"stats <Stats dict> exits N admitted N", exit/access filter runs
#	counted. It exits when its standard input reaches end of file (the
#	driver holds it open) or on SIGTERM.

package require multiplexer

lassign $argv statsFile maxQueue
if {$statsFile eq ""} {
    puts stderr "usage: tclsh soak.tcl STATSFILE ?MAXQUEUE?"
    exit 2
}
if {$maxQueue eq ""} {
    set maxQueue 262144
}

set mp [multiplexer::create]
${mp}::Config framing line overflow drop maxqueue $maxQueue
${mp}::Init 0 -myaddr 127.0.0.1

# Counting filters: one Tcl call per client at each end, none per message.
set exits 0
set admitted 0
${mp}::AddAccessFilter {apply {{chan addr port} {incr ::admitted; return}}}
${mp}::AddExitFilter {apply {{chan addr port} {incr ::exits; return}}}

proc writeStats {} {
    global mp statsFile exits admitted
    set tmp $statsFile.tmp
    set f [open $tmp w]
    puts $f [list stats [${mp}::Stats] exits $exits admitted $admitted]
    close $f
    file rename -force $tmp $statsFile
    after 500 writeStats
}
writeStats

puts "port [${mp}::Port]"
flush stdout

fconfigure stdin -blocking 0
fileevent stdin readable {
    read stdin
    if {[eof stdin]} {
	set ::done 1
    }
}
vwait ::done
after cancel writeStats
${mp}::destroy
exit 0
