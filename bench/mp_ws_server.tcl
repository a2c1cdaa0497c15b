# mp_ws_server.tcl -- the multiplexer package under benchmark, WebSocket
# listener.
#
#   tclsh mp_ws_server.tcl ?-framing raw|line? ?-filter 0|1?
#                          ?-statsfile file? ?-path /p?
#
# As mp_server.tcl (same options, same default configuration, the same
# Stats file once the clients go quiet), but the listener is a WebSocket
# one: `Init 0 -protocol websocket -myaddr 127.0.0.1`, with -path only
# when given (any path upgrades otherwise).  Every WebSocket message a
# client sends is one message relayed to every other client.  Prints the
# port on stdout as its first line.

if {[info exists env(MP_BUILD_DIR)] && $env(MP_BUILD_DIR) ne ""} {
    set auto_path [linsert $auto_path 0 [file normalize $env(MP_BUILD_DIR)]]
}
set opts [dict merge {-framing raw -filter 0 -statsfile {} -path {}} $argv]

set version [package require multiplexer]
if {[info commands ::multiplexer::build-info] eq ""} {
    puts stderr "mp_ws_server: loaded a multiplexer $version without\
	    build-info, not this package"
    exit 1
}
puts stderr "mp_ws_server: multiplexer $version [::multiplexer::build-info]\
	from [lindex [package ifneeded multiplexer $version] end]"

proc f {d args} {return $d}

set mp [::multiplexer::create]
if {[dict get $opts -framing] ne "raw"} {
    ${mp}::Config framing [dict get $opts -framing]
}
if {[dict get $opts -filter]} {
    ${mp}::AddFilter f
}
# The Stats are written only once no message has arrived for 200 ms, and
# only if they changed (see mp_server.tcl: a file write must not fall in
# a measured phase).
proc dumpstats {file {last -1} {dumped -1}} {
    global mp
    set stats [${mp}::Stats]
    set n [dict get $stats messages_in]
    if {$n > 0 && $n == $last && $n != $dumped} {
	set fd [open $file.tmp w]
	puts $fd $stats
	close $fd
	file rename -force $file.tmp $file
	set dumped $n
    }
    after 200 [list dumpstats $file $n $dumped]
}
if {[dict get $opts -statsfile] ne ""} {
    dumpstats [dict get $opts -statsfile]
}
set initArgs [list -protocol websocket -myaddr 127.0.0.1]
if {[dict get $opts -path] ne ""} {
    lappend initArgs -path [dict get $opts -path]
}
set listener [${mp}::Init 0 {*}$initArgs]
puts [${mp}::Port]
flush stdout
vwait forever
