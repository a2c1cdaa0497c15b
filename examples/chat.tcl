#!/usr/bin/env tclsh
# chat.tcl -- a chat server on the multiplexer package.
#
#	tclsh chat.tcl ?port? ?address?
#
# Join with "nc localhost PORT" or "telnet localhost PORT": every line one
# client types reaches every other client, prefixed with its sender.
# Port 0 (the default) picks a free port; the port is printed.

package require multiplexer

set port [expr {$argc > 0 ? [lindex $argv 0] : 0}]
set addr [expr {$argc > 1 ? [lindex $argv 1] : "127.0.0.1"}]

set mp [multiplexer::create]
${mp}::Config framing line          ;# whole lines, LF or CRLF
${mp}::Config maxmessage 4096       ;# longer lines disconnect their sender

# Greet newcomers and tell the room.
proc welcome {mp chan addr port} {
    puts $chan "* welcome, $addr:$port ([llength [${mp}::Clients]] others here)"
    ${mp}::Broadcast "* $addr:$port joined"
    return 0
}
# Prefix every line with its sender.
proc label {data chan addr port} {
    return "<$addr:$port> $data"
}
# Tell the room when someone leaves, and why.
proc farewell {mp chan addr port} {
    ${mp}::Broadcast "* $addr:$port left ([${mp}::Reason $chan])"
}

${mp}::AddAccessFilter [list welcome $mp]
${mp}::AddFilter label
${mp}::AddExitFilter [list farewell $mp]
${mp}::Init $port -myaddr $addr

puts "chat server listening on $addr port [${mp}::Port]"
puts "join with: nc $addr [${mp}::Port]   (Ctrl-C stops the server)"
flush stdout
vwait forever
