# mp_server.tcl -- the multiplexer package under benchmark.
#
#   tclsh mp_server.tcl ?-framing raw|line? ?-filter 0|1? ?-statsfile file?
#                       ?-protocol tcp|websocket? ?-path /p?
#                       ?-tls {certfile keyfile}?
#                       ?-cluster redis://host:port? ?-node id?
#                       ?-myaddr addr? ?-multicast {group port ?options?}?
#
# Loads this package (the build directory in $env(MP_BUILD_DIR) goes first
# on auto_path), keeps the default configuration apart from the options
# given, listens on an ephemeral port of 127.0.0.1 and prints the port on
# stdout as its first line.  With -filter 1 one trivial data filter is
# registered, so every message makes one Tcl call (in raw framing a message
# is one read chunk: Stats messages_in counts them).  With -statsfile the
# instance's Stats are written to that file when the clients go quiet (the
# driver reads it after the run).  With -protocol websocket the listener is
# a WebSocket one (`Init 0 -protocol websocket`, with -path when given):
# every WebSocket message a client sends is one message relayed to every
# other client (the "mpws" column of run.sh).  With -tls the listener takes
# TLS connections (`Init 0 -tls [list -certfile F -keyfile F]`, default TLS
# settings otherwise), raw framing unless told (the "mptls" column).
# With -cluster the instance joins the cluster "bench" through the Redis
# server at that URL (`Cluster join URL -channel bench -node ID`, default
# options otherwise) and prints its port only once the node is connected
# (at most 10 s, else it exits 1): three of these make the "mpcluster"
# cell of run.sh.  Its Stats file then also has the Cluster status, each
# key prefixed "cluster_", and is written once neither client messages
# nor messages from Redis have arrived for 200 ms.  -myaddr: the address
# to listen on (default 127.0.0.1; the nodes of the multicast cells each
# listen on their own namespace's address).  With -multicast the instance
# joins that group (`Multicast join GROUP PORT ?options?`, -node added
# when given) before printing its port, and its Stats file also has the
# Multicast status, each key prefixed "mcast_" (written once neither
# client messages nor messages from the group have arrived for 200 ms):
# three of these, one per network namespace, make the "mpmcast" cell.

if {[info exists env(MP_BUILD_DIR)] && $env(MP_BUILD_DIR) ne ""} {
    set auto_path [linsert $auto_path 0 [file normalize $env(MP_BUILD_DIR)]]
}
set opts [dict merge {-framing raw -filter 0 -statsfile {} -protocol tcp \
	-path {} -tls {} -cluster {} -node {} -myaddr 127.0.0.1 \
	-multicast {}} $argv]

set version [package require multiplexer]
if {[info commands ::multiplexer::build-info] eq ""} {
    puts stderr "mp_server: loaded a multiplexer $version without build-info,\
	    not this package"
    exit 1
}
puts stderr "mp_server: multiplexer $version [::multiplexer::build-info]\
	from [lindex [package ifneeded multiplexer $version] end]"

proc f {d args} {return $d}

set mp [::multiplexer::create]
if {[dict get $opts -framing] ne "raw"} {
    ${mp}::Config framing [dict get $opts -framing]
}
if {[dict get $opts -filter]} {
    ${mp}::AddFilter f
}
# Writing a file can stall for tens of milliseconds on a busy disk, which
# would show up in the latency figures: the Stats are written only once
# no message has arrived for 200 ms (the load generator has finished; it
# never pauses that long while measuring), and only if they changed.
proc dumpstats {file {last -1} {dumped -1}} {
    global mp opts
    set stats [${mp}::Stats]
    set n [dict get $stats messages_in]
    if {[dict get $opts -cluster] ne ""} {
	set cs [${mp}::Cluster status]
	incr n [dict get $cs received]
	dict for {k v} $cs {
	    if {$k ni {url lasterror}} {dict set stats cluster_$k $v}
	}
    }
    if {[dict get $opts -multicast] ne ""} {
	set ms [${mp}::Multicast status]
	incr n [dict get $ms received]
	dict for {k v} $ms {
	    if {[string is wideinteger -strict $v]} {dict set stats mcast_$k $v}
	}
    }
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
set initArgs [list -myaddr [dict get $opts -myaddr]]
if {[dict get $opts -protocol] ne "tcp"} {
    lappend initArgs -protocol [dict get $opts -protocol]
}
if {[dict get $opts -path] ne ""} {
    lappend initArgs -path [dict get $opts -path]
}
if {[dict get $opts -tls] ne ""} {
    lassign [dict get $opts -tls] certfile keyfile
    lappend initArgs -tls [list -certfile $certfile -keyfile $keyfile]
}
set listener [${mp}::Init 0 {*}$initArgs]
if {[dict get $opts -cluster] ne ""} {
    set node [dict get $opts -node]
    if {$node eq ""} {set node [pid]}
    ${mp}::Cluster join [dict get $opts -cluster] -channel bench -node $node
    set until [expr {[clock milliseconds] + 10000}]
    while {![dict get [${mp}::Cluster status] connected]} {
	if {[clock milliseconds] > $until} {
	    puts stderr "mp_server: not connected to Redis within 10 s:\
		    [dict get [${mp}::Cluster status] lasterror]"
	    exit 1
	}
	after 20 {set ::tick 1}
	vwait ::tick
    }
    puts stderr "mp_server: node $node joined [dict get [${mp}::Cluster status] channel]"
}
if {[dict get $opts -multicast] ne ""} {
    set margs [lassign [dict get $opts -multicast] group mport]
    if {[dict get $opts -node] ne ""} {
	lappend margs -node [dict get $opts -node]
    }
    ${mp}::Multicast join $group $mport {*}$margs
    puts stderr "mp_server: joined $group port $mport:\
	    [${mp}::Multicast status]"
}
puts [${mp}::Port]
flush stdout
vwait forever
