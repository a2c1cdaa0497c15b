# report.tcl -- turn the benchmark's raw.txt into results.md and plot data.
#
#   tclsh report.tcl resultsdir ?full|quick?
#
# raw.txt has one line per run: key=value words (the cell, then the load
# generator's RESULT).  Writes resultsdir/results.md (the tables) and
# resultsdir/plot-B<bytes>.dat (one file per message size, one row per R)
# for plot.gnuplot.  Exit status 1 if a run of this package or the C
# reference did not succeed.

lassign $argv dir mode
if {$mode eq ""} {set mode full}

# The servers of the plots and of the capacity table; the tables of the
# matrix add "cref2", the control copy of the C reference, when the run
# has it (run.sh, BENCH_CONTROL).
set servers {cref mp tcllib relay}
array set label {
    cref   "C ref"
    mp     "multiplexer 0.4"
    tcllib "tcllib 0.2"
    relay  "Tcl relay"
    cref2  "C ref (control)"
    mpws   "multiplexer 0.4 WebSocket"
    mpw    "multiplexer 0.4 TCP at the WebSocket window"
    tcp    "multiplexer 0.4 TCP"
    nodews "Node ws 8"
    socketio "Socket.IO 4"
    mptls  "multiplexer 0.4 TLS"
    creftls "C ref TLS"
    mpcluster "multiplexer 0.4, 3 nodes"
    mpclusterline "multiplexer 0.4, 3 nodes, line framing"
    sioredis "Socket.IO 4 + redis-adapter, 3 nodes"
    redisonly "Redis pub/sub alone"
}

# ---------------------------------------------------------------------------
# Read.
# ---------------------------------------------------------------------------

set runs {}
set f [open [file join $dir raw.txt]]
while {[gets $f line] >= 0} {
    set d [dict create]
    foreach w [split [string trim $line] " "] {
	if {[set i [string first = $w]] > 0} {
	    dict set d [string range $w 0 $i-1] [string range $w $i+1 end]
	}
    }
    lappend runs $d
}
close $f

# The run of a workload for a server and cell (R, B), or {}.  The cell is
# the one the driver planned (cellR): an aborted run connected fewer.
# With several passes (BENCH_PASSES) a cell has several runs: a run that
# did not end "ok" is returned as it is (every run must deliver
# everything); otherwise the runs are merged into one, each speed figure
# taking the median of its values over the passes (how = median, what
# the tables and targets use) or its best value (how = best, shown for
# comparison).  Within a run the best repetition is already kept.
proc find {workload server {R {}} {B {}} {how median}} {
    set found {}
    foreach d $::runs {
	if {[dict get $d workload] ne $workload} continue
	if {[dict get $d server] ne $server} continue
	if {$R ne "" && [get $d cellR] != $R} continue
	if {$B ne "" && [get $d cellB] != $B} continue
	if {[get $d status] ne "ok"} {
	    return $d
	}
	lappend found $d
    }
    if {[llength $found] == 0} {
	return {}
    }
    set merged [lindex $found 0]
    foreach {key order} {
	sat_dps -decreasing sat_mbps -decreasing sat_mps -decreasing
	sat_p99_us -increasing light_p50_us -increasing
	light_p99_us -increasing light_p99_best_us -increasing
	sat_cpu_per_M -increasing
	sat_dps_x -decreasing light_p50_x_us -increasing
	light_p99_x_best_us -increasing light_p99_l_best_us -increasing
	redis_cpu_per_M -increasing
    } {
	set vals {}
	foreach d $found {
	    if {[get $d $key] ne ""} {lappend vals [get $d $key]}
	}
	if {[llength $vals] == 0} continue
	if {$how eq "best"} {
	    dict set merged $key [lindex [lsort -real $order $vals] 0]
	} else {
	    dict set merged $key [median $vals]
	}
    }
    dict set merged passes [llength $found]
    return $merged
}
# The median of a list of numbers, or "" for an empty list.
proc median {l} {
    set l [lsort -real $l]
    set n [llength $l]
    if {$n == 0} {return ""}
    if {$n % 2} {return [lindex $l [expr {$n / 2}]]}
    expr {([lindex $l [expr {$n / 2 - 1}]] + [lindex $l [expr {$n / 2}]]) / 2.0}
}
# The per-pass ratios server / against for a key in cell (R, B), in pass
# order; passes where either run failed or lacks the figure are left out.
# In a pass the servers of a cell run one after the other, so each ratio
# compares two runs that met nearly the same state of the machine.
proc pairedRatios {key R B {server mp} {against cref}} {
    if {$against eq "tcp"} {
	# The WebSocket listener's TCP yardstick: our TCP fan-out at the
	# same window (mpw, where the WebSocket cells' window is smaller
	# than the TCP one), else mp.
	set against [expr {[find matrix mpw $R $B] ne "" ? "mpw" : "mp"}]
    }
    set q {}
    for {set p 1} {$p <= $::passes} {incr p} {
	set a {}
	set b {}
	foreach d $::runs {
	    if {[dict get $d workload] ne "matrix"} continue
	    if {[get $d cellR] != $R || [get $d cellB] != $B} continue
	    if {[get $d pass] ne "" && [get $d pass] != $p} continue
	    if {[get $d status] ne "ok"} continue
	    set s [dict get $d server]
	    if {$s eq $server} {set a [get $d $key]}
	    if {$s eq $against} {set b [get $d $key]}
	}
	if {$a ne "" && $b ne "" && $b != 0} {
	    lappend q [expr {double($a) / $b}]
	}
    }
    return $q
}
proc aborted {d} {
    expr {[dict exists $d status] && [dict get $d status] eq "ABORTED"}
}
proc get {d key} {
    if {[dict exists $d $key]} {return [dict get $d $key]}
    return ""
}

# Whether a run's light phase fell short of its rate (below 95 % of what
# was asked: light_target, 100 messages/s in runs that do not say).
proc lightShort {d} {
    set rate [get $d light_rate]
    if {$rate eq ""} {return 0}
    set target [get $d light_target]
    if {$target eq ""} {set target 100}
    expr {$rate < 0.95 * $target}
}

# The light-load p99 the tables and targets use: the best of the light
# phase's parts (loadgen --light-reps) where the runs have it, as the best
# saturated repetition is used (a stall of the machine can only make a
# part worse); otherwise the p99 of the whole phase.
set lightKey light_p99_us
set lightNote "p99 of the whole light phase"
foreach d $runs {
    if {[dict exists $d light_p99_best_us]} {
	set lightKey light_p99_best_us
	set lightNote "p99 of the best of the light phase's [llength [split [dict get $d light_p99_reps_us] ,]] equal parts, as the best saturated repetition is kept: a stall of the machine of several milliseconds, which a shared VM has for every server alike, spoils only the part it falls in (all parts: light_p99_reps_us in raw.txt; the whole phase: light_p99_us)"
	break
    }
}

# The WebSocket servers (issue #16) that ran: not in the tables above,
# which compare TCP fan-out servers, but in a section of their own.
set wsServers {}
foreach s {mpws nodews socketio} {
    foreach d $runs {
	if {[dict get $d server] eq $s} {
	    lappend wsServers $s
	    break
	}
    }
}

# The TLS servers (issue #17) that ran: a section of their own too.
set tlsServers {}
foreach s {mptls creftls} {
    foreach d $runs {
	if {[dict get $d server] eq $s} {
	    lappend tlsServers $s
	    break
	}
    }
}

set matrixServers $servers
foreach d $runs {
    if {[dict get $d server] eq "cref2"} {
	lappend matrixServers cref2
	break
    }
}

set Rs {}
set Bs {}
foreach d $runs {
    if {[dict get $d workload] eq "matrix"} {
	if {[get $d cellR] ni $Rs} {lappend Rs [get $d cellR]}
	if {[get $d cellB] ni $Bs} {lappend Bs [get $d cellB]}
    }
}
set Rs [lsort -integer $Rs]
set Bs [lsort -integer $Bs]
set satreps 1
set passes 1
foreach d $runs {
    if {[dict exists $d pass] && [dict get $d pass] > $passes} {
	set passes [dict get $d pass]
    }
}
set passNote [expr {$passes > 1 ? "  $passes passes over the whole matrix: every figure in these tables is the median of its $passes values, one per pass, and every ratio the median of the $passes per-pass ratios, for every server alike." : ""}]
foreach d $runs {
    if {[dict exists $d sat_reps]} {set satreps [dict get $d sat_reps]; break}
}

# ---------------------------------------------------------------------------
# Formatting.
# ---------------------------------------------------------------------------

proc si {v} {
    if {$v eq ""} {return "-"}
    if {$v >= 1e6} {return [format "%.2f M" [expr {$v / 1e6}]]}
    if {$v >= 1e3} {return [format "%.1f k" [expr {$v / 1e3}]]}
    return [format "%.0f" $v]
}
proc us {v} {
    if {$v eq ""} {return "-"}
    if {$v >= 1e6} {return [format "%.2f s" [expr {$v / 1e6}]]}
    if {$v >= 1e3} {return [format "%.2f ms" [expr {$v / 1e3}]]}
    return [format "%.0f µs" $v]
}
proc num {v {fmt %.2f}} {
    if {$v eq ""} {return "-"}
    return [format $fmt $v]
}
proc ratio {v ref} {
    if {$v eq "" || $ref eq "" || $ref == 0} {return ""}
    return [format " (×%.2f)" [expr {double($v) / $ref}]]
}
# The ratio text of server s's figure v in cell (R, B) to the C
# reference's ref: with several passes the median of the per-pass ratios
# (what the targets use), which need not equal the ratio of the medians.
proc cellRatio {key R B s v ref} {
    if {$::passes > 1} {
	set m [median [pairedRatios $key $R $B $s cref]]
	if {$m eq ""} {return ""}
	return [format " (×%.2f)" $m]
    }
    ratio $v $ref
}
# Cell text for a run that did not produce numbers, or "".
proc trouble {d} {
    if {$d eq ""} {return "not run"}
    switch -- [get $d status] {
	ok {return ""}
	ABORTED {return "**aborted at [get $d aborted_at]**"}
	FAIL {
	    set r [string map {_ " "} [get $d reason]]
	    if {[string length $r] > 60} {set r [string range $r 0 56]...}
	    return "**FAIL**: $r"
	}
	default {return "**error** [string map {_ " "} [get $d reason]]"}
    }
}

set out {}
proc emit {s} {lappend ::out $s}
proc header {first servers} {
    set h "| $first |"
    set u "|---|"
    foreach s $servers {
	append h " $::label($s) |"
	append u "---:|"
    }
    emit $h
    emit $u
}

# One table of a metric over the (R, B) matrix.  fmt: formatting proc.
proc matrix_table {title key fmt note} {
    emit "### $title"
    emit ""
    if {$note ne ""} {emit $note; emit ""}
    header "R × B" $::matrixServers
    foreach R $::Rs {
	foreach B $::Bs {
	    set ref [get [find matrix cref $R $B] $key]
	    set row "| $R × $B |"
	    foreach s $::matrixServers {
		set d [find matrix $s $R $B]
		set t [trouble $d]
		if {$t eq ""} {
		    set v [get $d $key]
		    set t [{*}$fmt $v]
		    if {$s ne "cref"} {append t [cellRatio $key $R $B $s $v $ref]}
		    if {[string match light_* $key]
			    && [lightShort $d]} {
			append t " †"
		    }
		}
		append row " $t |"
	    }
	    emit $row
	}
    }
    emit ""
}

# ---------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------

set mf [open [file join $dir machine.md]]
set machine [read $mf]
close $mf

emit "## Benchmark results ($mode run)"
emit ""
emit $machine
emit "Ratios are to the C reference (same cell).  Every cell starts a fresh"
emit "server; 1 sender and R receivers; B-byte messages; every message is"
emit "checked delivered exactly once and in order to every receiver."
emit ""

matrix_table "Saturated: deliveries/s (higher is better)" sat_dps si \
    "One delivery = one B-byte message arriving at one receiver.  The sender keeps at most W messages ahead of the slowest receiver (W = min(256 KiB / B, 256 MiB / (R·B)), at least 4) and writes up to 64 KiB of messages per write().  Best of a run's $::satreps repetitions (other work on the machine can only slow a repetition down; all repetitions: sat_dps_reps in raw.txt).$::passNote"
matrix_table "Saturated: MB/s delivered (higher is better)" sat_mbps num ""
matrix_table "Saturated: latency p99 (window-bound queueing; lower is better)" \
    sat_p99_us us "Under saturation latency is mostly the time W messages wait in queues; p50 and max are in raw.txt (sat_p50_us, sat_max_us)."
matrix_table "Light load (100 messages/s): latency p50 (lower is better)" \
    light_p50_us us ""
matrix_table "Light load (100 messages/s): latency p99 (lower is better)" \
    $lightKey us "[string toupper [string index $lightNote 0]][string range $lightNote 1 end].$::passNote  † the server could not sustain 100 messages/s with the window bound (offered load above its capacity): the cell measures an overloaded server."
matrix_table "Server CPU seconds per million deliveries, saturated (user+sys; lower is better)" \
    sat_cpu_per_M {apply {{v} {num $v %.3f}}} \
    "From /proc/PID/stat around the saturated repetitions (all of them: total CPU / total deliveries); the figure least disturbed by the load generator sharing the machine."

# Capacity.
emit "### Capacity: idle clients held, one broadcast to all"
emit ""
set capServers [concat $servers $wsServers $tlsServers]
header "metric" $capServers
set rows {
    {clients held}            clients       {apply {{v} {num $v %.0f}}}
    {broadcast reached all}   bcast_ok      {apply {{v} {expr {$v eq "1" ? "yes" : "**no**"}}}}
    {broadcast time}          bcast_ms      {apply {{v} {num $v "%.0f ms"}}}
    {server RSS, idle}        rss_base_kb   {apply {{v} {num $v "%.0f KiB"}}}
    {server RSS, all connected} rss_conn_kb {apply {{v} {num $v "%.0f KiB"}}}
    {RSS per idle client}     rss_per_client_b {apply {{v} {num $v "%.0f B"}}}
    {stopped by}              cap_stop      {apply {{v} {set v}}}
}
foreach {name key fmt} $rows {
    set row "| $name |"
    foreach s $capServers {
	set d [find capacity $s]
	set t [trouble $d]
	if {$t eq "" || ([aborted $d] && $key eq "cap_stop")} {
	    set t [{*}$fmt [get $d $key]]
	} elseif {[aborted $d] && $key ne "clients"} {
	    set t "-"
	}
	append row " $t |"
    }
    emit $row
}
emit ""
emit "The C reference allocates its per-descriptor table for the whole descriptor limit at start, so its idle RSS already covers every client.[expr {[llength $wsServers] ? "  The WebSocket servers' clients have completed their handshake (Socket.IO's its namespace connect) before they count as held; their limit is 10,000 clients in the full run." : ""}][expr {[llength $tlsServers] ? "  The TLS servers' clients have completed their TLS handshake before they count as held (the load generator connects the next batch only then); their limit is 10,000 clients in the full run." : ""}]"
emit ""

# Filters.
set fcells {}
foreach d $runs {
    set w [dict get $d workload]
    if {$w in {filter-raw line filter-line cref-line}} {
	set c [list [get $d cellR] [get $d cellB]]
	if {$c ni $fcells} {lappend fcells $c}
    }
}
if {[llength $fcells]} {
    emit "### One trivial Tcl filter (\`proc f {d args} {return \$d}\`): messages/s, saturated"
    emit ""
    emit "Messages (records sent by the sender) per second; ratios to the C reference relaying the same bytes.  *chunks/msg*: Tcl filter calls per message (raw framing filters each read chunk; line framing each line)."
    emit ""
    emit "| R × B | C ref raw | C ref line | mp raw | mp raw + filter | mp line | mp line + filter | filter calls/msg raw, line | CPU s/M deliveries: mp line + filter vs C |"
    emit "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    foreach c [lsort -index 0 -integer [lsort -index 1 -integer $fcells]] {
	lassign $c R B
	set cr [find matrix cref $R $B]
	set cl [find cref-line cref $R $B]
	set refraw [get $cr sat_mps]
	set refline [get $cl sat_mps]
	set row "| $R × $B |"
	foreach {w s ref} [list matrix cref {} cref-line cref {} matrix mp $refraw \
		filter-raw mp $refraw line mp $refline filter-line mp $refline] {
	    set d [find $w $s $R $B]
	    set t [trouble $d]
	    if {$t eq ""} {
		set t [si [get $d sat_mps]][ratio [get $d sat_mps] $ref]
	    }
	    append row " $t |"
	}
	set calls {}
	foreach w {filter-raw filter-line} {
	    set d [find $w mp $R $B]
	    set mi [get $d srv_messages_in]
	    set ms [get $d sat_msgs]
	    if {$mi ne "" && $ms ne "" && [get $d status] eq "ok"} {
		# messages_in covers probes, the start marker and the light
		# phase too (none here but probes): close enough per message.
		lappend calls [format %.3f [expr {double($mi) / $ms}]]
	    } else {
		lappend calls -
	    }
	}
	append row " [join $calls {, }] |"
	set d [find filter-line mp $R $B]
	set v [get $d sat_cpu_per_M]
	append row " [num $v %.3f] vs [num [get $cl sat_cpu_per_M] %.3f] |"
	emit $row
    }
    emit ""
}

# ---------------------------------------------------------------------------
# Paired ratios (several passes): in each pass the servers of a cell run
# one after the other, so the ratio of this package to the C reference
# within a pass compares runs that met the same machine state. The median
# over the passes is less sensitive to one lucky or unlucky run than the
# ratio of best values.
# ---------------------------------------------------------------------------

proc pairedCell {key R B {server mp}} {
    set q [pairedRatios $key $R $B $server]
    if {[llength $q] == 0} {return "-"}
    set l [lsort -real $q]
    format "×%.2f (×%.2f–×%.2f)" [median $q] [lindex $l 0] [lindex $l end]
}

# pairedTable server: the table of per-pass ratios of server to the C
# reference, and the line pooling them over all cells.
proc pairedTable {server} {
    emit "### Paired ratios: $::label($server) ÷ C ref, median over the $::passes passes (range)"
    emit ""
    emit "Within a pass the servers of a cell run one after the other; each pass gives one ratio per figure. Higher is better for deliveries/s, lower for latency and CPU."
    emit ""
    emit "| R × B | saturated deliveries/s | light-load p99 | CPU per million deliveries |"
    emit "|---|---:|---:|---:|"
    foreach R $::Rs {
	foreach B $::Bs {
	    emit "| $R × $B | [pairedCell sat_dps $R $B $server] | [pairedCell $::lightKey $R $B $server] | [pairedCell sat_cpu_per_M $R $B $server] |"
	}
    }
    emit ""
    # Every per-pass ratio of every cell together: whether the server is
    # slower or faster than the C reference overall, apart from the noise
    # of single cells.
    set pooled {}
    foreach {key text} [list sat_dps "saturated deliveries/s" \
	    $::lightKey "light-load p99" sat_cpu_per_M "CPU per million deliveries"] {
	set all {}
	foreach R $::Rs {
	    foreach B $::Bs {
		lappend all {*}[pairedRatios $key $R $B $server]
	    }
	}
	if {[llength $all] == 0} continue
	set sum 0.0
	foreach r $all {set sum [expr {$sum + log($r)}]}
	lappend pooled [format "%s ×%.2f (%d ratios)" $text \
	    [expr {exp($sum / [llength $all])}] [llength $all]]
    }
    if {[llength $pooled]} {
	emit "All cells pooled, geometric mean of the per-pass ratios: [join $pooled {, }]."
	emit ""
    }
}

if {$passes > 1} {
    pairedTable mp
}

# worse cmp a b: whether ratio a is further from a target of the form
# "cmp limit" than ratio b (lower for >=, higher for <=).
proc worse {cmp a b} {
    expr {$cmp eq ">=" ? $a < $b : $a > $b}
}
# meets cmp v limit: whether ratio v meets the target "cmp limit".
proc meets {cmp v limit} {
    expr {$cmp eq ">=" ? $v >= $limit : $v <= $limit}
}

# ---------------------------------------------------------------------------
# Targets (issue #4), for this package.
# ---------------------------------------------------------------------------

# The worst ratio of server (this package unless told) to server
# "against" over the matrix cells where both ran: {PASS|**MISS** ratio
# cell}.  how = paired: the ratio of a cell is the median of its per-pass
# ratios (with one pass, the ratio of the two runs), the criterion; how =
# best: the ratio of the two servers' best values over the passes, shown
# for comparison.  A failed run of server is a MISS whatever the figures.
proc worst {key cmp limit {against cref} {how paired} {server mp} {cells {}}} {
    set w {}
    set wc {}
    set pass 1
    set n 0
    if {[llength $cells] == 0} {
	foreach R $::Rs {
	    foreach B $::Bs {
		lappend cells [list $R $B]
	    }
	}
    }
    foreach cell $cells {
	lassign $cell R B
	set d [find matrix $server $R $B]
	set r [find matrix [expr {$against ne "tcp" ? $against
		: [find matrix mpw $R $B] ne "" ? "mpw" : "mp"}] $R $B]
	if {[get $d status] ne "ok"} {
	    set pass 0
	    set w FAIL
	    set wc "$R × $B"
	    continue
	}
	if {[get $r status] ne "ok"} continue
	if {$how eq "paired"} {
	    set q [median [pairedRatios $key $R $B $server $against]]
	    if {$q eq ""} continue
	} else {
	    set v [get [find matrix $server $R $B best] $key]
	    set rv [get [find matrix $against $R $B best] $key]
	    if {$v eq "" || $rv eq "" || $rv == 0} continue
	    set q [expr {double($v) / $rv}]
	}
	incr n
	if {$w eq "" || ($w ne "FAIL" && [worse $cmp $q $w])} {
	    set w $q
	    set wc "$R × $B"
	}
    }
    if {$w ne "" && $w ne "FAIL"} {
	set pass [expr {$pass && [meets $cmp $w $limit]}]
	set w [format ×%.2f $w]
    }
    if {$n == 0 && $w eq ""} {set pass 0; set w "no data"}
    list [expr {$pass ? "PASS" : "**MISS**"}] $w $wc
}

emit "### Targets (issue #4) for this package"
emit ""
if {$passes > 1} {
    emit "A ratio target is checked on each cell's median of the $passes per-pass ratios (in a pass the servers of a cell run one after the other), as in the tables above."
    emit ""
}
emit "| target | result | worst cell (R × B) | |"
emit "|---|---|---|---|"
# The ratio targets against the C reference: key, comparison, limit, text.
set refTargets [list \
    sat_dps >= 0.9 "saturated deliveries/s ≥ 0.9× C ref in every cell" \
    $lightKey <= 1.5 "light-load p99 ≤ 1.5× C ref in every cell" \
    sat_cpu_per_M <= 1.2 "server CPU per million deliveries ≤ 1.2× C ref"]
foreach {key cmp limit text} $refTargets {
    lassign [worst $key $cmp $limit] p w c
    emit "| $text | $p | $c | $w |"
    if {$key eq "sat_dps"} {
	lassign [worst sat_dps >= 1.0 tcllib] p w c
	emit "| saturated deliveries/s ahead of tcllib 0.2 in every cell (where tcllib runs) | $p | $c | $w |"
    }
}
set d [find capacity mp]
set cl [get $d clients]
set rpc [get $d rss_per_client_b]
if {$mode eq "quick"} {
    emit "| capacity ≥ 19,000 clients, all receive a broadcast | n/a (quick run: limit [get $d cap_limit]) | | [num $cl %.0f] held |"
} else {
    set ok [expr {$cl ne "" && $cl >= 19000 && [get $d bcast_ok] eq "1"}]
    emit "| capacity ≥ 19,000 clients, all receive a broadcast | [expr {$ok ? "PASS" : "**MISS**"}] | | [num $cl %.0f] held, broadcast [expr {[get $d bcast_ok] eq 1 ? "reached all" : "**failed**"}] |"
}
set ok [expr {$rpc ne "" && $rpc <= 4096}]
emit "| ≤ 4 KiB server RSS per idle client | [expr {$ok ? "PASS" : "**MISS**"}] | | [num $rpc "%.0f B"] |"
set bad 0
set failures {}
foreach d $runs {
    if {[get $d status] ne "ok"
	    && !([aborted $d] && [dict get $d server] in {tcllib relay})} {
	incr bad
	lappend failures "[dict get $d workload]/[dict get $d server]/R[get $d cellR]/B[get $d cellB]: [get $d status] [get $d reason]"
    }
}
emit "| every message delivered exactly once, in order (all runs) | [expr {$bad ? "**FAIL** ($bad runs)" : "PASS"}] | | [llength $runs] runs |"
emit ""
foreach x $failures {emit "- $x"}
if {[llength $failures]} {emit ""}
if {$passes > 1} {
    emit "For comparison, not the criterion: the same ratio targets on each server's best value over the $passes passes.  A best value is one run, and one run can fall in a fast or a slow phase of a shared machine; the per-pass ratio compares runs that met the same phase."
    emit ""
    emit "| target, on best values over the passes | result | worst cell (R × B) | |"
    emit "|---|---|---|---|"
    foreach {key cmp limit text} $refTargets {
	lassign [worst $key $cmp $limit cref best] p w c
	emit "| $text | [string trim $p *] | $c | $w |"
    }
    emit ""
}

# The control: a second copy of the C reference, run in every cell like
# the other servers, checked on the same ratio targets.  Identical
# servers would give ×1.00 on a quiet machine; how far from it they land
# is what this machine's noise does to the criterion in this run.
if {"cref2" in $matrixServers} {
    emit "### Control: the C reference against a second copy of itself"
    emit ""
    emit "\"C ref (control)\" is the same C reference binary, started fresh in every cell like each server, in its own place in the pass order.  The ratio targets above, checked on it with the same statistic: a MISS here is run-to-run noise of this machine, since the two servers are identical."
    emit ""
    emit "| target, checked on C ref (control) ÷ C ref | result | worst cell (R × B) | |"
    emit "|---|---|---|---|"
    foreach {key cmp limit text} $refTargets {
	lassign [worst $key $cmp $limit cref paired cref2] p w c
	emit "| $text | [string trim $p *] | $c | $w |"
    }
    emit ""
    if {$passes > 1} {
	pairedTable cref2
    }
}

# ---------------------------------------------------------------------------
# WebSocket (issue #16): our WebSocket listener against our TCP fan-out,
# Node's ws 8 and Socket.IO 4, in the cells the WebSocket servers ran.
# ---------------------------------------------------------------------------

# The pooled statistic: geometric mean of every per-pass ratio of server
# to against over the cells; {} if there is none, else {mean count}.
proc pooled {key server against cells} {
    set all {}
    foreach cell $cells {
	lappend all {*}[pairedRatios $key {*}$cell $server $against]
    }
    if {[llength $all] == 0} {return {}}
    set sum 0.0
    foreach r $all {set sum [expr {$sum + log($r)}]}
    list [expr {exp($sum / [llength $all])}] [llength $all]
}

if {[llength $wsServers]} {
    set wsCells {}
    foreach R $Rs {
	foreach B $Bs {
	    foreach s $wsServers {
		if {[find matrix $s $R $B] ne ""} {
		    lappend wsCells [list $R $B]
		    break
		}
	    }
	}
    }
    set haveMpw 0
    foreach d $runs {
	if {[dict get $d server] eq "mpw"} {
	    set haveMpw 1
	    break
	}
    }
    set wsCols {}
    foreach s {mp mpw mpws nodews socketio} {
	if {$s eq "mp" || ($s eq "mpw" && $haveMpw) || $s in $wsServers} {
	    lappend wsCols $s
	}
    }
    set wsAgainst {}
    if {"mpws" in $wsServers} {
	lappend wsAgainst tcp
	foreach s {nodews socketio} {
	    if {$s in $wsCols} {lappend wsAgainst $s}
	}
    }
    array set short {tcp "TCP" nodews "Node ws" socketio "Socket.IO"}

    emit "### WebSocket servers (issue #16)"
    emit ""
    emit "One sender and R receivers as above, every client a WebSocket client: each message is one WebSocket message of B bytes of payload (one record), sent masked with a fresh key per frame as a browser does and relayed as one message to every other client; binary messages for our package and Node ws, for Socket.IO the text event \`42\[\"m\",\"<record>\"\]\` (a text record, B bytes inside the JSON string).  Our package: \`Init 0 -protocol websocket\`, default configuration otherwise (\`mp_server.tcl -protocol websocket\`); Node ws: \`WebSocketServer\` broadcasting to every other open client (\`ws_server.js\`); Socket.IO: \`transports: \['websocket'\]\`, \`socket.broadcast.emit\` (\`socketio_server.js\`).  The WebSocket servers run the cells with B in {[join [lsort -unique -integer [lmap c $wsCells {lindex $c 1}]] {, }]}, with at most 100,000 deliveries in flight (W ≤ 100000 / R, the same for the three; the TCP column keeps its own window).  Where that window is smaller than the TCP one, our TCP fan-out also runs at it (the column \"TCP, WebSocket window\", run.sh's mpw), and the WebSocket listener's ratio to TCP is taken against that run, so that it compares the two codecs at one window; elsewhere against the TCP column.  Ratio columns: median of the per-pass ratios of our WebSocket listener to each other server, as for the targets.$::passNote"
    emit ""
    foreach {title key fmt} [list \
	    "deliveries/s, saturated (higher is better)" sat_dps si \
	    "light-load latency p99 (lower is better)" $::lightKey us \
	    "server CPU seconds per million deliveries (lower is better)" sat_cpu_per_M {apply {{v} {num $v %.3f}}} \
	    "saturated latency p99 (window-bound; lower is better)" sat_p99_us us] {
	emit "#### WebSocket: $title"
	emit ""
	set h "| R × B |"
	set u "|---|"
	foreach s $wsCols {
	    append h " [expr {$s eq "mp" ? "multiplexer 0.4 TCP" : $s eq "mpw" ? "… TCP, WebSocket window" : $::label($s)}] |"
	    append u "---:|"
	}
	foreach a $wsAgainst {
	    append h " WS ÷ $short($a) |"
	    append u "---:|"
	}
	emit $h
	emit $u
	foreach cell $wsCells {
	    lassign $cell R B
	    set row "| $R × $B |"
	    foreach s $wsCols {
		set d [find matrix $s $R $B]
		set t [trouble $d]
		if {$t eq ""} {
		    set t [{*}$fmt [get $d $key]]
		    if {[string match light_* $key] && [lightShort $d]} {
			append t " †"
		    }
		}
		append row " $t |"
	    }
	    foreach a $wsAgainst {
		set m [median [pairedRatios $key $R $B mpws $a]]
		append row " [expr {$m eq "" ? "-" : [format ×%.2f $m]}] |"
	    }
	    emit $row
	}
	emit ""
    }
    emit "† the server could not sustain 100 messages/s (see the light-load table above)."
    emit ""
    if {[llength $wsAgainst]} {
	set pl {}
	foreach a $wsAgainst {
	    set parts {}
	    foreach {key text} [list sat_dps "deliveries/s" $::lightKey "light-load p99" sat_cpu_per_M "CPU per million deliveries"] {
		set g [pooled $key mpws $a $wsCells]
		if {$g ne ""} {
		    lappend parts [format "%s ×%.2f (%d ratios)" $text {*}$g]
		}
	    }
	    if {[llength $parts]} {
		lappend pl "÷ $::label($a): [join $parts {, }]"
	    }
	}
	emit "All WebSocket cells pooled, geometric mean of the per-pass ratios of $::label(mpws): [join $pl {; }]."
	emit ""
    }

    emit "#### Targets (issue #16) for the WebSocket listener"
    emit ""
    emit "Checked on each cell's median of the per-pass ratios, as the targets of issue #4; the pooled geometric mean over the cells is shown beside."
    emit ""
    emit "| target | result | worst cell (R × B) | | all cells pooled |"
    emit "|---|---|---|---|---|"
    foreach {key cmp limit against text} [list \
	    sat_dps >= 0.85 tcp "WebSocket deliveries/s ≥ 0.85× our TCP fan-out in every cell" \
	    sat_dps >= 5 nodews "WebSocket deliveries/s ≥ 5× Node ws in every cell" \
	    sat_dps >= 10 socketio "WebSocket deliveries/s ≥ 10× Socket.IO in every cell" \
	    $::lightKey <= 1.5 tcp "WebSocket light-load p99 ≤ 1.5× our TCP fan-out in every cell"] {
	if {$against ni $wsAgainst} {
	    emit "| $text | not run | | | |"
	    continue
	}
	lassign [worst $key $cmp $limit $against paired mpws $wsCells] p w c
	set g [pooled $key mpws $against $wsCells]
	emit "| $text | $p | $c | $w | [expr {$g eq "" ? "-" : [format "×%.2f (%d ratios)" {*}$g]}] |"
    }
    if {"mpws" in $wsServers} {
	set parts {}
	foreach a $wsAgainst {
	    set g [pooled sat_cpu_per_M mpws $a $wsCells]
	    if {$g ne ""} {lappend parts [format "×%.2f of %s" [lindex $g 0] $::label($a)]}
	}
	emit "| server CPU per million deliveries (reported) | | | | [join $parts {, }] |"
	set d [find capacity mpws]
	set cl [get $d clients]
	set rpc [get $d rss_per_client_b]
	if {$d eq ""} {
	    emit "| 10,000 idle WebSocket clients, ≤ 2 KiB server RSS each | not run | | | |"
	} else {
	    # clients counts the sender too: 10,000 receivers need 10,001.
	    set held [expr {$cl ne "" && $cl > 10000 && [get $d bcast_ok] eq "1"}]
	    set small [expr {$rpc ne "" && $rpc <= 2048}]
	    if {$mode eq "quick"} {
		set p "n/a (quick run: limit [get $d cap_limit]), RSS [expr {$small ? "PASS" : "**MISS**"}]"
	    } else {
		set p [expr {$held && $small ? "PASS" : "**MISS**"}]
	    }
	    emit "| 10,000 idle WebSocket clients, ≤ 2 KiB server RSS each | $p | | [num $cl %.0f] held, broadcast [expr {[get $d bcast_ok] eq 1 ? "reached all" : "**failed**"}], [num $rpc "%.0f B"] per client | |"
	}
    }
    emit ""
}
# ---------------------------------------------------------------------------
# TLS (issue #17): our TLS listener against the C reference over TLS and
# against our own plaintext fan-out, in the cells the TLS servers ran.
# ---------------------------------------------------------------------------

if {[llength $tlsServers]} {
    set tlsCells {}
    foreach R $Rs {
	foreach B $Bs {
	    foreach s $tlsServers {
		if {[find matrix $s $R $B] ne ""} {
		    lappend tlsCells [list $R $B]
		    break
		}
	    }
	}
    }
    # Columns: our plaintext fan-out and the C reference (where they ran
    # in those cells), then the TLS servers.
    set tlsCols {}
    foreach s {cref mp mptls creftls} {
	if {$s in $tlsServers} {
	    lappend tlsCols $s
	    continue
	}
	foreach cell $tlsCells {
	    if {[find matrix $s {*}$cell] ne ""} {
		lappend tlsCols $s
		break
	    }
	}
    }
    # Ratio columns: {server against heading}.
    set tlsRatios {}
    if {"mptls" in $tlsServers} {
	if {"creftls" in $tlsCols} {lappend tlsRatios {mptls creftls "TLS ÷ C ref TLS"}}
	if {"mp" in $tlsCols} {lappend tlsRatios {mptls mp "TLS ÷ TCP"}}
    }
    if {"creftls" in $tlsServers && "cref" in $tlsCols} {
	lappend tlsRatios {creftls cref "C ref TLS ÷ C ref"}
    }
    array set tlsHead {
	cref "C ref (TCP)" mp "multiplexer 0.4 TCP"
	mptls "multiplexer 0.4 TLS" creftls "C ref TLS"
    }

    emit "### TLS servers (issue #17)"
    emit ""
    emit "One sender and R receivers as above, every client a TLS client (the load generator's \`--tls\`: OpenSSL, TLS 1.2 or 1.3, no certificate verification, SNI \`localhost\`), raw framing: whatever a client sends is relayed, as the same bytes, to every other client.  Our package: \`Init 0 -myaddr 127.0.0.1 -tls \[list -certfile F -keyfile F\]\`, default configuration otherwise (\`mp_server.tcl -tls\`); the C reference over TLS: \`cref_tls.c\` (one \`SSL_write()\` per chunk read and recipient, OpenSSL's buffers released while idle).  Both use one throwaway self-signed EC P-256 certificate made for the run and OpenSSL's default protocol settings.  The TLS servers run the cells with R in {[join [lsort -unique -integer [lmap c $tlsCells {lindex $c 0}]] {, }]} and B in {[join [lsort -unique -integer [lmap c $tlsCells {lindex $c 1}]] {, }]}, at the load generator's own window, as the TCP servers in the same cell: the TCP columns (the same runs as in the tables above) are the plaintext yardstick.  Ratio columns: median of the per-pass ratios, as for the targets.$::passNote"
    emit ""
    foreach {title key fmt} [list \
	    "deliveries/s, saturated (higher is better)" sat_dps si \
	    "light-load latency p99 (lower is better)" $::lightKey us \
	    "server CPU seconds per million deliveries (lower is better)" sat_cpu_per_M {apply {{v} {num $v %.3f}}} \
	    "saturated latency p99 (window-bound; lower is better)" sat_p99_us us] {
	emit "#### TLS: $title"
	emit ""
	set h "| R × B |"
	set u "|---|"
	foreach s $tlsCols {
	    append h " $tlsHead($s) |"
	    append u "---:|"
	}
	foreach r $tlsRatios {
	    append h " [lindex $r 2] |"
	    append u "---:|"
	}
	emit $h
	emit $u
	foreach cell $tlsCells {
	    lassign $cell R B
	    set row "| $R × $B |"
	    foreach s $tlsCols {
		set d [find matrix $s $R $B]
		set t [trouble $d]
		if {$t eq ""} {
		    set t [{*}$fmt [get $d $key]]
		    if {[string match light_* $key] && [lightShort $d]} {
			append t " †"
		    }
		}
		append row " $t |"
	    }
	    foreach r $tlsRatios {
		lassign $r s a
		set m [median [pairedRatios $key $R $B $s $a]]
		append row " [expr {$m eq "" ? "-" : [format ×%.2f $m]}] |"
	    }
	    emit $row
	}
	emit ""
    }
    emit "† the server could not sustain 100 messages/s (see the light-load table above)."
    emit ""
    set pl {}
    foreach r $tlsRatios {
	lassign $r s a
	set parts {}
	foreach {key text} [list sat_dps "deliveries/s" $::lightKey "light-load p99" sat_cpu_per_M "CPU per million deliveries"] {
	    set g [pooled $key $s $a $tlsCells]
	    if {$g ne ""} {
		lappend parts [format "%s ×%.2f (%d ratios)" $text {*}$g]
	    }
	}
	if {[llength $parts]} {
	    lappend pl "$::label($s) ÷ $tlsHead($a): [join $parts {, }]"
	}
    }
    if {[llength $pl]} {
	emit "All TLS cells pooled, geometric mean of the per-pass ratios: [join $pl {; }]."
	emit ""
    }

    emit "#### Targets (issue #17) for the TLS listener"
    emit ""
    emit "Checked on each cell's median of the per-pass ratios, as the targets of issue #4; the pooled geometric mean over the cells is shown beside."
    emit ""
    emit "| target | result | worst cell (R × B) | | all cells pooled |"
    emit "|---|---|---|---|---|"
    set cells1024 {}
    foreach c $tlsCells {
	if {[lindex $c 1] == 1024} {lappend cells1024 $c}
    }
    foreach {key cmp limit against cells text} [list \
	    sat_dps >= 1.0 creftls $tlsCells "TLS deliveries/s ≥ 1.0× C ref TLS in every cell" \
	    sat_dps >= 0.5 mp $cells1024 "TLS deliveries/s ≥ 0.5× our plaintext TCP fan-out at B = 1024"] {
	if {"mptls" ni $tlsServers || $against ni $tlsCols || [llength $cells] == 0} {
	    emit "| $text | not run | | | |"
	    continue
	}
	lassign [worst $key $cmp $limit $against paired mptls $cells] p w c
	set g [pooled $key mptls $against $cells]
	emit "| $text | $p | $c | $w | [expr {$g eq "" ? "-" : [format "×%.2f (%d ratios)" {*}$g]}] |"
    }
    if {"mptls" in $tlsServers} {
	# CPU per million deliveries: reported, no limit; the range of the
	# cell medians and the pooled mean against each yardstick.
	set parts {}
	foreach a {creftls mp} {
	    if {$a ni $tlsCols} continue
	    set meds {}
	    foreach cell $tlsCells {
		set m [median [pairedRatios sat_cpu_per_M {*}$cell mptls $a]]
		if {$m ne ""} {lappend meds $m}
	    }
	    set g [pooled sat_cpu_per_M mptls $a $tlsCells]
	    if {$g eq ""} continue
	    set meds [lsort -real $meds]
	    lappend parts [format "×%.2f of %s (cells ×%.2f–×%.2f)" [lindex $g 0] \
		$tlsHead($a) [lindex $meds 0] [lindex $meds end]]
	}
	emit "| server CPU per million deliveries (reported) | | | | [join $parts {, }] |"
	set d [find capacity mptls]
	set cl [get $d clients]
	set rpc [get $d rss_per_client_b]
	set other ""
	set dc [find capacity creftls]
	if {[get $dc rss_per_client_b] ne ""} {
	    set other " (C ref TLS: [num [get $dc clients] %.0f] held, [num [get $dc rss_per_client_b] "%.0f B"] per client)"
	}
	if {$d eq ""} {
	    emit "| 10,000 idle TLS clients, ≤ 40 KiB server RSS each | not run | | | |"
	} elseif {[get $d status] ne "ok"} {
	    emit "| 10,000 idle TLS clients, ≤ 40 KiB server RSS each | **MISS** | | [trouble $d] | |"
	} else {
	    # clients counts the sender too: 10,000 receivers need 10,001.
	    set held [expr {$cl ne "" && $cl > 10000 && [get $d bcast_ok] eq "1"}]
	    set small [expr {$rpc ne "" && $rpc <= 40960}]
	    if {$mode eq "quick" || [get $d cap_limit] < 10000} {
		set p "n/a (limit [get $d cap_limit][expr {$mode eq "quick" ? ", quick run" : ", descriptor limit"}]), RSS [expr {$small ? "PASS" : "**MISS**"}]"
	    } else {
		set p [expr {$held && $small ? "PASS" : "**MISS**"}]
	    }
	    emit "| 10,000 idle TLS clients, ≤ 40 KiB server RSS each | $p | | [num $cl %.0f] held, broadcast [expr {[get $d bcast_ok] eq 1 ? "reached all" : "**failed**"}], [num $rpc "%.0f B"] per client$other | |"
	}
    }
    emit ""
}
# ---------------------------------------------------------------------------
# Cluster (issue #18): three nodes joined through Redis, messages entering
# at the first, receivers spread over all three; Socket.IO with the Redis
# adapter on three Node processes; Redis pub/sub alone; our single node
# as the within-one-node yardstick.
# ---------------------------------------------------------------------------

# The figure of a cluster cell's run for a "kind" of figure: what crossed
# nodes (x: cross-node deliveries/s, light-load p99 of the receivers on
# another node than the sender, for Redis alone every receiver) or all
# deliveries.  The single node (mp) has no crossing: its x figures are
# those of all its receivers, the within-one-node yardstick.
proc clKey {kind server} {
    switch -- $kind {
	dpsx {expr {$server eq "mp" ? "" : "sat_dps_x"}}
	p99x {expr {$server eq "mp" ? $::lightKey : [string map {light_p99 light_p99_x} $::lightKey]}}
	p99l {expr {$server in {mpcluster mpclusterline} ? [string map {light_p99 light_p99_l} $::lightKey] : ""}}
	default {return $kind}
    }
}
# Per-pass values of cluster cell (R, B): a ÷ b (op ratio) or a − b (op
# diff) of server's figure keyA and against's keyB, in pass order; passes
# where either run failed or lacks the figure are left out.
proc clPaired {keyA server keyB against R B {op ratio}} {
    set q {}
    for {set p 1} {$p <= $::passes} {incr p} {
	set a {}
	set b {}
	foreach d $::runs {
	    if {[dict get $d workload] ne "cluster"} continue
	    if {[get $d cellR] != $R || [get $d cellB] != $B} continue
	    if {[get $d pass] ne "" && [get $d pass] != $p} continue
	    if {[get $d status] ne "ok"} continue
	    set s [dict get $d server]
	    if {$s eq $server} {set a [get $d $keyA]}
	    if {$s eq $against} {set b [get $d $keyB]}
	}
	if {$a eq "" || $b eq ""} continue
	if {$op eq "diff"} {
	    lappend q [expr {double($a) - $b}]
	} elseif {$b != 0} {
	    lappend q [expr {double($a) / $b}]
	}
    }
    return $q
}
set clServers {}
foreach s {mp mpcluster mpclusterline sioredis redisonly} {
    foreach d $runs {
	if {[dict get $d workload] eq "cluster" && [dict get $d server] eq $s} {
	    lappend clServers $s
	    break
	}
    }
}
if {[llength $clServers]} {
    set clCells {}
    foreach d $runs {
	if {[dict get $d workload] ne "cluster"} continue
	set c [list [get $d cellR] [get $d cellB]]
	if {$c ni $clCells} {lappend clCells $c}
    }
    set clCells [lsort -index 0 -integer [lsort -index 1 -integer $clCells]]
    set clNodes 3
    foreach d $runs {
	if {[dict get $d workload] eq "cluster" && [get $d nodes] ne ""
		&& [dict get $d server] ne "redisonly"} {
	    set clNodes [get $d nodes]
	    break
	}
    }
    array set clHead {
	mp "multiplexer 0.4, one node"
	mpcluster "multiplexer 0.4, 3 nodes"
	mpclusterline "multiplexer 0.4, 3 nodes, line framing"
	sioredis "Socket.IO 4 + redis-adapter"
	redisonly "Redis alone"
    }
    # Ratio (or difference) columns: {kind server against heading op}.
    set clRatios {}
    set clOurs {}
    foreach {ours tag} {mpcluster "ours" mpclusterline "ours, line"} {
	if {$ours ni $clServers} continue
	lappend clOurs $ours
	if {"sioredis" in $clServers} {lappend clRatios [list dpsx $ours sioredis "$tag ÷ Socket.IO" ratio]}
	if {"redisonly" in $clServers} {lappend clRatios [list dpsx $ours redisonly "$tag ÷ Redis alone" ratio]}
	if {"mp" in $clServers} {lappend clRatios [list p99x $ours mp "$tag − one node" diff]}
    }
    set note "[expr {$passes > 1 ? "  $passes passes: every figure is the median of its $passes values, every ratio or difference the median of the $passes per-pass ones." : ""}]"

    emit "### Cluster: $clNodes nodes through Redis (issue #18)"
    emit ""
    emit "One sender on the first node, R receivers spread round-robin over the $clNodes nodes (R/$clNodes on each), B-byte messages, every message checked delivered exactly once and in order at every receiver.  *Cross-node* deliveries are those at the receivers of the other nodes (for Redis alone: every delivery, each crossed Redis).  multiplexer, 3 nodes: \`mp_server.tcl -cluster redis://...\` three times (\`Cluster join URL -channel bench\`, default configuration, raw framing: a message is what one read returns, so under saturation a node publishes many records at once); the same in line framing (\`-framing line\`, the load generator's line records: one publish per record, as Socket.IO and Redis alone do); Socket.IO: \`socketio_cluster_server.js\` three times (Socket.IO 4, websocket transport, \`@socket.io/redis-adapter\` with node-redis 4, \`socket.broadcast.emit\`); Redis alone: the load generator's R receivers SUBSCRIBE and its sender PUBLISHes each record, no server of ours; one node: this package alone with all R receivers (\`mp_server.tcl\`, no Redis), the within-one-node yardstick.  Each run starts a fresh redis-server (nothing saved) and fresh nodes, all pinned with the server's pinning (the whole cell under test on one core, the load generator on the other).  Every server of a cell runs at the same window W (W in raw.txt: the load generator's own, capped at 100,000 deliveries in flight, W ≤ 100000 / R, as the WebSocket cells; in the quick run at 20,000).$note"
    emit ""
    foreach {title kind fmt} [list \
	    "deliveries/s, saturated, all receivers (higher is better)" sat_dps si \
	    "cross-node deliveries/s, saturated (higher is better)" dpsx si \
	    "light-load latency p99 of cross-node deliveries (one node: of all its deliveries; lower is better)" p99x us \
	    "server CPU seconds per million deliveries: the nodes together (Redis alone: Redis; lower is better)" sat_cpu_per_M {apply {{v} {num $v %.3f}}} \
	    "Redis CPU milliseconds per million deliveries, saturated (lower is better)" redis_cpu_per_M {apply {{v} {if {$v eq ""} {return -}; format %.2f [expr {$v * 1000.0}]}}}] {
	emit "#### Cluster: $title"
	emit ""
	set h "| R × B |"
	set u "|---|"
	foreach s $clServers {
	    append h " $clHead($s) |"
	    append u "---:|"
	}
	if {$kind eq "p99x"} {
	    foreach s $clOurs {
		append h " $clHead($s), receivers on the sender's node |"
		append u "---:|"
	    }
	}
	set cols {}
	foreach r $clRatios {
	    lassign $r k s a head
	    if {$k eq $kind} {
		lappend cols $r
		append h " $head |"
		append u "---:|"
	    }
	}
	emit $h
	emit $u
	foreach cell $clCells {
	    lassign $cell R B
	    set row "| $R × $B |"
	    set extra {}
	    foreach s $clServers {
		set d [find cluster $s $R $B]
		set t [trouble $d]
		set key [clKey $kind $s]
		if {$t eq ""} {
		    # (not in expr, which would turn "0.390" into 0.39)
		    if {$key eq "" || ($kind eq "redis_cpu_per_M" && $s eq "mp")} {
			set t -
		    } else {
			set t [{*}$fmt [get $d $key]]
		    }
		    if {$kind eq "p99x" && [lightShort $d]} {
			append t " †"
		    }
		}
		append row " $t |"
		if {$kind eq "p99x" && $s in $clOurs} {
		    append extra " [expr {[trouble $d] eq "" ? [us [get $d [clKey p99l $s]]] : "-"}] |"
		}
	    }
	    append row $extra
	    foreach r $cols {
		lassign $r k s a head op
		set m [median [clPaired [clKey $k $s] $s [clKey $k $a] $a $R $B $op]]
		if {$m eq ""} {
		    append row " - |"
		} elseif {$op eq "diff"} {
		    append row " [format %+.0f $m] µs |"
		} else {
		    append row " [format ×%.2f $m] |"
		}
	    }
	    emit $row
	}
	emit ""
    }
    emit "† the cell could not sustain its light-phase rate (100 messages/s, or 30,000 deliveries/s where R × 100 would be more)."
    emit ""
    # Redis's work: messages published per record sent (a node publishes
    # each message it fans out once; in raw framing a message is one read
    # chunk, up to 64 KiB), and Redis's share of the whole run.
    if {[llength $clOurs]} {
	emit "Messages our nodes published to Redis per record the sender sent (raw framing: a message is one read chunk, so under saturation one publish carries many records; at light load one record each), and what each node did (Cluster status, summed over the nodes; a nonzero dropped, gaps or duplicates would be a fault even where the load generator's check passed):"
	emit ""
	emit "| R × B | framing | publishes per record | published | received (other nodes) | delivered from Redis | dropped | gaps | duplicates | reconnects |"
	emit "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	foreach cell $clCells {
	  lassign $cell R B
	  foreach ours $clOurs {
	    set fr [expr {$ours eq "mpcluster" ? "raw" : "line"}]
	    # The first pass's run, as it is (these are counts, not speeds).
	    set d {}
	    foreach x $runs {
		if {[dict get $x workload] eq "cluster" && [dict get $x server] eq $ours
			&& [get $x cellR] == $R && [get $x cellB] == $B} {
		    set d $x
		    break
		}
	    }
	    if {$d eq "" || [get $d srv_cluster_published] eq ""} {
		emit "| $R × $B | $fr | - | - | - | - | - | - | - | - |"
		continue
	    }
	    set recs 0
	    foreach k {light_msgs sat_msgs} {
		if {[get $d $k] ne ""} {incr recs [get $d $k]}
	    }
	    set ppr [expr {$recs > 0 ? [format %.4f [expr {double([get $d srv_cluster_published]) / $recs}]] : "-"}]
	    emit "| $R × $B | $fr | $ppr | [get $d srv_cluster_published] | [get $d srv_cluster_received] | [get $d srv_cluster_delivered] | [get $d srv_cluster_dropped] | [get $d srv_cluster_gaps] | [get $d srv_cluster_duplicates] | [get $d srv_cluster_reconnects] |"
	  }
	}
	emit ""
    }

    emit "#### Targets (issue #18) for the cluster"
    emit ""
    emit "Checked on each cell's median of the per-pass ratios (or differences), as the targets of issue #4; the pooled geometric mean over the cells is shown beside."
    emit ""
    emit "| target | result | worst cell (R × B) | | all cells pooled |"
    emit "|---|---|---|---|---|"
    foreach ours [expr {[llength $clOurs] ? $clOurs : "mpcluster"}] {
    set fw [expr {$ours eq "mpclusterline" ? " (line framing)" : " (raw framing)"}]
    foreach {against cmp limit text} {
	sioredis >= 5 "cross-node deliveries/s ≥ 5× Socket.IO's in every cell"
	redisonly >= 0.8 "cross-node deliveries/s ≥ 0.8× Redis alone in every cell"
    } {
	append text $fw
	if {$ours ni $clServers || $against ni $clServers} {
	    emit "| $text | not run | | | |"
	    continue
	}
	set w {}
	set wc {}
	set ok 1
	set all {}
	foreach cell $clCells {
	    lassign $cell R B
	    if {[get [find cluster $ours $R $B] status] ne "ok"} {
		set ok 0
		set w FAIL
		set wc "$R × $B"
		continue
	    }
	    set q [clPaired sat_dps_x $ours sat_dps_x $against $R $B]
	    lappend all {*}$q
	    set m [median $q]
	    if {$m eq ""} continue
	    if {$w eq "" || ($w ne "FAIL" && [worse $cmp $m $w])} {
		set w $m
		set wc "$R × $B"
	    }
	}
	if {$w eq ""} {
	    emit "| $text | **MISS** | | no data | |"
	    continue
	}
	if {$w ne "FAIL"} {
	    set ok [expr {$ok && [meets $cmp $w $limit]}]
	    set w [format ×%.2f $w]
	}
	set g -
	if {[llength $all]} {
	    set sum 0.0
	    foreach x $all {set sum [expr {$sum + log($x)}]}
	    set g [format "×%.2f (%d ratios)" [expr {exp($sum / [llength $all])}] [llength $all]]
	}
	emit "| $text | [expr {$ok ? "PASS" : "**MISS**"}] | $wc | $w | $g |"
    }
    set text "light-load p99 crossing nodes ≤ 1 ms more than within one node$fw"
    if {$ours in $clServers && "mp" in $clServers} {
	set w {}
	set wc {}
	set ok 1
	set all {}
	foreach cell $clCells {
	    lassign $cell R B
	    if {[get [find cluster $ours $R $B] status] ne "ok"} {
		set ok 0
		set w FAIL
		set wc "$R × $B"
		continue
	    }
	    set q [clPaired [clKey p99x $ours] $ours [clKey p99x mp] mp $R $B diff]
	    lappend all {*}$q
	    set m [median $q]
	    if {$m eq ""} continue
	    if {$w eq "" || ($w ne "FAIL" && $m > $w)} {
		set w $m
		set wc "$R × $B"
	    }
	}
	if {$w eq ""} {
	    emit "| $text | **MISS** | | no data | |"
	} else {
	    if {$w ne "FAIL"} {
		set ok [expr {$ok && $w <= 1000}]
		set w [format "%+.0f µs" $w]
	    }
	    set g [expr {[llength $all] ? [format "mean %+.0f µs (%d differences)" [expr {[tcl::mathop::+ {*}$all] / [llength $all]}] [llength $all]] : "-"}]
	    emit "| $text | [expr {$ok ? "PASS" : "**MISS**"}] | $wc | $w | $g |"
	}
    } else {
	emit "| $text | not run | | | |"
    }
    }
    # Redis CPU per million deliveries: reported, no limit.
    set parts {}
    foreach s {mpcluster mpclusterline sioredis redisonly} {
	if {$s ni $clServers} continue
	set meds {}
	foreach cell $clCells {
	    set v [get [find cluster $s {*}$cell] redis_cpu_per_M]
	    if {$v ne ""} {lappend meds [list "[join $cell " × "]" [expr {$v * 1000.0}]]}
	}
	if {[llength $meds]} {
	    lappend parts "$clHead($s): [join [lmap m $meds {format "%s %.2f" {*}$m}] {, }]"
	}
    }
    emit "| Redis CPU milliseconds per million deliveries (reported; our nodes publish a message once, Redis sends it to each node once, not once per recipient) | | | | [join $parts {; }] |"
    emit ""
}

# ---------------------------------------------------------------------------
# Multicast (issue #19): three of our nodes joined by `Multicast join`, in
# network namespaces of their own; three C relays (cref_mcast.c) the same
# way; our three nodes through Redis in the same namespaces (the Redis
# cluster cell of issue #18, at the same framing).
# ---------------------------------------------------------------------------

# Per-pass values of multicast cell (R, B): server's figure keyA ÷
# against's keyB, in pass order (passes where either run failed or lacks
# the figure left out).  A key may be a sum "k1+k2" (the Redis cell's CPU:
# the nodes' and Redis's).
proc mcGet {d key} {
    set v 0.0
    foreach k [split $key +] {
	if {[get $d $k] eq ""} {return ""}
	set v [expr {$v + [get $d $k]}]
    }
    return $v
}
proc mcPaired {key server against R B} {
    set q {}
    for {set p 1} {$p <= $::passes} {incr p} {
	set a {}
	set b {}
	foreach d $::runs {
	    if {[dict get $d workload] ne "mcast"} continue
	    if {[get $d cellR] != $R || [get $d cellB] != $B} continue
	    if {[get $d pass] ne "" && [get $d pass] != $p} continue
	    if {[get $d status] ne "ok"} continue
	    set s [dict get $d server]
	    if {$s eq $server} {set a [mcGet $d $key]}
	    if {$s eq $against} {set b [mcGet $d $key]}
	}
	if {$a eq "" || $b eq "" || $b == 0} continue
	lappend q [expr {double($a) / $b}]
    }
    return $q
}
# The median over the passes of a (possibly summed) figure of a server in
# a multicast cell, or "".
# The per-pass CPU ratios of our multicast nodes to the Redis cell (its
# nodes plus Redis).
proc mcPairedCpu {R B} {
    set q {}
    for {set p 1} {$p <= $::passes} {incr p} {
	set a {}
	set b {}
	foreach d $::runs {
	    if {[dict get $d workload] ne "mcast" || [get $d status] ne "ok"} continue
	    if {[get $d cellR] != $R || [get $d cellB] != $B} continue
	    if {[get $d pass] ne "" && [get $d pass] != $p} continue
	    switch -- [dict get $d server] {
		mpmcast {set a [mcGet $d sat_cpu_per_M]}
		mpclusterns {set b [mcGet $d sat_cpu_per_M+redis_cpu_per_M]}
	    }
	}
	if {$a ne "" && $b ne "" && $b != 0} {lappend q [expr {double($a) / $b}]}
    }
    return $q
}
proc mcMedian {key server R B} {
    set vals {}
    foreach d $::runs {
	if {[dict get $d workload] ne "mcast" || [dict get $d server] ne $server} continue
	if {[get $d cellR] != $R || [get $d cellB] != $B || [get $d status] ne "ok"} continue
	set v [mcGet $d $key]
	if {$v ne ""} {lappend vals $v}
    }
    median $vals
}
set mcServers {}
foreach s {mpmcast crefmcast mpclusterns} {
    foreach d $runs {
	if {[dict get $d workload] eq "mcast" && [dict get $d server] eq $s} {
	    lappend mcServers $s
	    break
	}
    }
}
if {[llength $mcServers]} {
    set mcCells {}
    foreach d $runs {
	if {[dict get $d workload] ne "mcast"} continue
	set c [list [get $d cellR] [get $d cellB]]
	if {$c ni $mcCells} {lappend mcCells $c}
    }
    set mcCells [lsort -index 0 -integer [lsort -index 1 -integer $mcCells]]
    array set mcHead {
	mpmcast "multiplexer 0.4, 3 nodes, multicast"
	crefmcast "C ref, 3 relays, multicast"
	mpclusterns "multiplexer 0.4, 3 nodes through Redis"
    }
    set p99x [string map {light_p99 light_p99_x} $lightKey]
    # Figures: {title key fmt lower-is-better}.  The Redis cell's CPU is
    # its nodes' and Redis's together.
    set mcFigs [list \
	[list "deliveries/s, saturated, all receivers (higher is better)" sat_dps si 0] \
	[list "cross-node deliveries/s, saturated (higher is better)" sat_dps_x si 0] \
	[list "light-load latency p99 of cross-node deliveries (lower is better)" $p99x us 1] \
	[list "CPU seconds per million deliveries, saturated: the three nodes together (through Redis: nodes + Redis; lower is better)" cpu {apply {{v} {num $v %.3f}}} 1]]
    proc mcKey {key server} {
	if {$key ne "cpu"} {return $key}
	expr {$server eq "mpclusterns" ? "sat_cpu_per_M+redis_cpu_per_M" : "sat_cpu_per_M"}
    }
    set mcRatios {}
    if {"mpmcast" in $mcServers && "crefmcast" in $mcServers} {lappend mcRatios [list crefmcast "ours ÷ C ref"]}
    if {"mpmcast" in $mcServers && "mpclusterns" in $mcServers} {lappend mcRatios [list mpclusterns "ours ÷ Redis cell"]}
    set note "[expr {$passes > 1 ? "  $passes passes: every figure is the median of its $passes values, every ratio the median of the $passes per-pass ratios." : ""}]"

    emit "### Multicast: 3 nodes in network namespaces (issue #19)"
    emit ""
    emit "Three nodes, each in a network namespace of its own with a veth to a bridge in a switch namespace (IGMP snooping off); the load generator in a fourth namespace of that network (its bridge port floods no multicast), so no datagram of the group is sent or received in the machine's own namespace.  One sender on the first node, R receivers round-robin over the three nodes (R/3 on each), B-byte line records (line framing: one datagram, or one publish, per record for every server), every message checked delivered exactly once and in order at every receiver.  *Cross-node* deliveries are those at the receivers of the other two nodes.  multiplexer, multicast: \`mp_server.tcl -framing line -multicast {GROUP PORT -loop 0 -rcvbuf 4194304}\` three times (\`Multicast join\`, no -retransmit); C ref: \`cref_mcast.c\` three times (one thread, epoll, one datagram per line with a 16-byte header, sendmmsg/recvmmsg, the same receive buffer); through Redis: \`mp_server.tcl -framing line -cluster redis://...\` three times with a fresh redis-server in a fifth namespace of the same network (the cluster cell of issue #18, in line framing).  Every process under test on one core, the load generator on the other; every server of a cell at the same window (W in raw.txt).$note"
    emit ""
    foreach fig $mcFigs {
	lassign $fig title key fmt lower
	emit "#### Multicast: $title"
	emit ""
	set h "| R × B |"
	set u "|---|"
	foreach s $mcServers {
	    append h " $mcHead($s) |"
	    append u "---:|"
	}
	foreach r $mcRatios {
	    append h " [lindex $r 1] |"
	    append u "---:|"
	}
	emit $h
	emit $u
	foreach cell $mcCells {
	    lassign $cell R B
	    set row "| $R × $B |"
	    foreach s $mcServers {
		set d [find mcast $s $R $B]
		set t [trouble $d]
		if {$t eq ""} {
		    set v [mcMedian [mcKey $key $s] $s $R $B]
		    set t [expr {$v eq "" ? "-" : [{*}$fmt $v]}]
		    if {$key eq $p99x && [lightShort $d]} {
			append t " †"
		    }
		}
		append row " $t |"
	    }
	    foreach r $mcRatios {
		set against [lindex $r 0]
		set m [median [mcPaired [mcKey $key mpmcast] mpmcast $against $R $B]]
		if {$key eq "cpu" && $against eq "mpclusterns"} {
		    # CPU of different kinds of work (Redis included): by
		    # quotient of the per-pass sums, as for the other ratios.
		    set m [median [lmap x [mcPairedCpu $R $B] {set x}]]
		}
		append row [expr {$m eq "" ? " - |" : " [format ×%.2f $m] |"}]
	    }
	    emit $row
	}
	emit ""
    }
    emit "† the cell could not sustain its light-phase rate (100 messages/s, or 30,000 deliveries/s where R × 100 would be more)."
    emit ""
    # The members' counters, summed over the nodes (raw.txt) and here over
    # the passes: a gap, drop, toobig or duplicate would be a loss that
    # the load generator's check must also have seen.
    emit "Datagrams and their losses (Multicast status for ours, the relays' counters for the C reference, Cluster status for the Redis cell; summed over the three nodes and over the passes; *sent*: datagrams (Redis: publishes) of messages; *received*: messages of other nodes taken; *retransmitted*: datagrams sent again on request, ours only, off here):"
    emit ""
    emit "| R × B | server | runs | sent | received | gaps | dropped | toobig | duplicates | retransmitted |"
    emit "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    foreach cell $mcCells {
	lassign $cell R B
	foreach s $mcServers {
	    set pre [expr {$s eq "mpclusterns" ? "srv_cluster_" : "srv_mcast_"}]
	    array unset mcSum
	    set n 0
	    foreach d $runs {
		if {[dict get $d workload] ne "mcast" || [dict get $d server] ne $s} continue
		if {[get $d cellR] != $R || [get $d cellB] != $B} continue
		incr n
		foreach {col k} [list sent [expr {$s eq "mpclusterns" ? "published" : "sent"}] \
			received received gaps gaps dropped dropped toobig toobig \
			duplicates duplicates retransmitted served] {
		    set v [get $d $pre$k]
		    if {$v eq ""} {
			if {![info exists mcSum($col)]} {set mcSum($col) -}
			continue
		    }
		    if {![info exists mcSum($col)] || $mcSum($col) eq "-"} {set mcSum($col) 0}
		    incr mcSum($col) $v
		}
	    }
	    set row "| $R × $B | $mcHead($s) | $n |"
	    foreach col {sent received gaps dropped toobig duplicates retransmitted} {
		append row " [expr {[info exists mcSum($col)] ? $mcSum($col) : "-"}] |"
	    }
	    emit $row
	}
    }
    emit ""

    if {[llength $mcRatios]} {
	emit "#### Multicast: paired ratios of ours, median over the passes (range)"
	emit ""
	set h "| R × B |"
	set u "|---|"
	foreach r $mcRatios {
	    foreach {k t} [list sat_dps "deliveries/s" sat_dps_x "cross-node deliveries/s" $p99x "light-load p99, cross-node" cpu "CPU per million deliveries"] {
		append h " $t, [lindex $r 1] |"
		append u "---:|"
	    }
	}
	emit $h
	emit $u
	foreach cell $mcCells {
	    lassign $cell R B
	    set row "| $R × $B |"
	    foreach r $mcRatios {
		set against [lindex $r 0]
		foreach k [list sat_dps sat_dps_x $p99x cpu] {
		    if {$k eq "cpu" && $against eq "mpclusterns"} {
			set q [mcPairedCpu $R $B]
		    } else {
			set q [mcPaired [mcKey $k mpmcast] mpmcast $against $R $B]
		    }
		    if {![llength $q]} {
			append row " - |"
			continue
		    }
		    set q [lsort -real $q]
		    append row " [format ×%.2f [median $q]] ([format ×%.2f [lindex $q 0]]–[format ×%.2f [lindex $q end]]) |"
		}
	    }
	    emit $row
	}
	emit ""
    }

    emit "#### Targets (issue #19) for multicast"
    emit ""
    emit "Checked on each cell's median of the per-pass ratios, as the targets of issue #4; the pooled geometric mean over the cells is shown beside."
    emit ""
    emit "| target | result | worst cell (R × B) | | all cells pooled |"
    emit "|---|---|---|---|---|"
    foreach {against key cmp limit text} [list \
	    crefmcast sat_dps >= 0.9 "saturated deliveries/s ≥ 0.9× the C reference in every cell" \
	    mpclusterns sat_dps > 1.0 "saturated deliveries/s ahead of the Redis cell (3 nodes through Redis) in every cell" \
	    mpclusterns $p99x < 1.0 "light-load p99 of cross-node deliveries below the Redis cell's in every cell"] {
	if {"mpmcast" ni $mcServers || $against ni $mcServers} {
	    emit "| $text | not run | | | |"
	    continue
	}
	set w {}
	set wc {}
	set ok 1
	set all {}
	foreach cell $mcCells {
	    lassign $cell R B
	    if {[get [find mcast mpmcast $R $B] status] ne "ok"} {
		set ok 0
		set w FAIL
		set wc "$R × $B"
		continue
	    }
	    set q [mcPaired $key mpmcast $against $R $B]
	    lappend all {*}$q
	    set m [median $q]
	    if {$m eq ""} continue
	    if {$w eq "" || ($w ne "FAIL" && (($cmp in {>= >} && $m < $w) || ($cmp eq "<" && $m > $w)))} {
		set w $m
		set wc "$R × $B"
	    }
	}
	if {$w eq ""} {
	    emit "| $text | **MISS** | | no data | |"
	    continue
	}
	if {$w ne "FAIL"} {
	    set ok [expr {$ok && [expr "\$w $cmp \$limit"]}]
	    set w [format ×%.2f $w]
	}
	set g -
	if {[llength $all]} {
	    set sum 0.0
	    foreach x $all {set sum [expr {$sum + log($x)}]}
	    set g [format "×%.2f (%d ratios)" [expr {exp($sum / [llength $all])}] [llength $all]]
	}
	emit "| $text | [expr {$ok ? "PASS" : "**MISS**"}] | $wc | $w | $g |"
    }
    emit ""
}

emit "Raw per-run figures (latency max, light-load achieved rate, load-generator CPU, load average, ...): raw.txt.  Plots: deliveries.png, latency.png."

set f [open [file join $dir results.md] w]
puts $f [join $out \n]
close $f

# ---------------------------------------------------------------------------
# Plot data: one file per B; columns R, then per server: sat_dps, light p99
# (ms), sat p99 (ms).  Missing values are NaN.
# ---------------------------------------------------------------------------

foreach B $Bs {
    set f [open [file join $dir plot-B$B.dat] w]
    puts $f "# R  [join [lmap s $servers {format "%s_dps" $s}]]  [join [lmap s $servers {format "%s_lp99ms" $s}]]  [join [lmap s $servers {format "%s_sp99ms" $s}]]"
    foreach R $Rs {
	set cols [list $R]
	foreach key [list sat_dps $lightKey sat_p99_us] {
	    foreach s $servers {
		set d [find matrix $s $R $B]
		set v [get $d $key]
		if {[get $d status] ne "ok" || $v eq ""} {
		    lappend cols NaN
		} elseif {$key eq "sat_dps"} {
		    lappend cols $v
		} else {
		    lappend cols [expr {$v / 1000.0}]
		}
	    }
	}
	puts $f [join $cols "\t"]
    }
    close $f
}
set f [open [file join $dir plot-sizes.txt] w]
puts $f [join $Bs " "]
close $f

exit [expr {$bad ? 1 : 0}]
