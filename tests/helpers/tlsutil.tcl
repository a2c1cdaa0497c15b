# tlsutil.tcl --
#
#	Helpers for tls.test: certificates made at run time with the openssl
#	command in a temporary directory (nothing is kept), instances with a
#	TCP and a TLS listener, and the real TLS peers driven through pipes:
#	openssl s_client, tests/helpers/tlsclient.py (Python's ssl module).
#	Sourced after common.tcl.

namespace eval ::tlst {
    variable dir [file dirname [file normalize [info script]]]
    variable certDir ""		;# Where the certificates are made.
    variable events		;# pipe -> list of event lines (tlsclient.py)
    variable output		;# pipe -> bytes read (s_client)
    variable errFile		;# pipe -> file with its standard error
    variable pipes {}
    array set events {}
    array set output {}
    array set errFile {}
}

# Subprocesses run without the sanitizer runtime that make test-asan
# preloads into tclsh.
proc ::tlst::envcmd {} {
    list env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS
}

# tlst::openssl --
#	Runs the openssl command; returns its standard output.

proc ::tlst::openssl {args} {
    exec {*}[envcmd] openssl {*}$args 2>@1
}

# tlst::path --
#	A file of the certificate directory.

proc ::tlst::path {name} {
    variable certDir
    file join $certDir $name
}

# tlst::writeFile, tlst::readFile --

proc ::tlst::writeFile {file data} {
    set f [open $file wb]
    puts -nonewline $f $data
    close $f
}

proc ::tlst::readFile {file} {
    set f [open $file rb]
    set data [read $f]
    close $f
    return $data
}

# tlst::newKey --
#	An EC P-256 key, unencrypted PEM, in file.

proc ::tlst::newKey {file} {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out $file
}

# tlst::makeCa --
#	A self-signed CA certificate name.pem with its key name.key.

proc ::tlst::makeCa {name cn} {
    newKey [path $name.key]
    openssl req -new -x509 -key [path $name.key] -out [path $name.pem] \
	    -days 2 -subj "/CN=$cn" -set_serial [incr ::tlst::serial] \
	    -extensions v3 -config [path req.cnf]
}

# tlst::makeCert --
#	A certificate name.pem for cn (key name.key) signed by the CA ca;
#	usage server or client; sans a subjectAltName value or "".

proc ::tlst::makeCert {name cn ca usage {sans ""}} {
    newKey [path $name.key]
    openssl req -new -key [path $name.key] -out [path $name.csr] \
	    -subj "/CN=$cn" -config [path req.cnf]
    set ext "basicConstraints=critical,CA:FALSE\n"
    append ext "keyUsage=critical,digitalSignature\n"
    append ext "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    append ext "extendedKeyUsage=[expr {$usage eq "server" ? "serverAuth" : "clientAuth"}]\n"
    if {$sans ne ""} {
	append ext "subjectAltName=$sans\n"
    }
    writeFile [path $name.ext] $ext
    openssl x509 -req -in [path $name.csr] -CA [path $ca.pem] \
	    -CAkey [path $ca.key] -set_serial [incr ::tlst::serial] \
	    -days 2 -sha256 -extfile [path $name.ext] -out [path $name.pem]
    file delete [path $name.csr] [path $name.ext]
}

# tlst::makeCerts --
#	Makes every certificate the tests use in a new temporary directory:
#	    ca          the private CA ("MP Test CA")
#	    server      CN localhost, SAN localhost and 127.0.0.1, by ca
#	    server2     the same names, another key (for TlsReload)
#	    other       CN other.test, SAN other.test, by ca (SNI)
#	    other2      the same names, another key (for TlsReload)
#	    alice       a client certificate (CN alice) by ca
#	    otherca     another CA ("MP Other CA")
#	    mallory     a client certificate (CN mallory) by otherca
#	    enc.key     server.key encrypted with the password "s3cret pw"
#	    enc-other.key      other.key encrypted with "s3cret pw"
#	    enc-other-own.key  other.key encrypted with "other pw"
#	Returns 1, or 0 (the directory removed) if something failed.

proc ::tlst::makeCerts {} {
    variable certDir
    set tmp /tmp
    if {[info exists ::env(TMPDIR)] && [file isdirectory $::env(TMPDIR)]} {
	set tmp $::env(TMPDIR)
    }
    set certDir [file join $tmp mptls-[pid]-[clock milliseconds]]
    file mkdir $certDir
    file attributes $certDir -permissions 0700
    variable serial 100
    if {[catch {
	writeFile [path req.cnf] "\[req\]\ndistinguished_name=dn\nprompt=no\n\[dn\]\n\[v3\]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
	makeCa ca "MP Test CA"
	makeCa otherca "MP Other CA"
	makeCert server localhost ca server "DNS:localhost,IP:127.0.0.1"
	makeCert server2 localhost ca server "DNS:localhost,IP:127.0.0.1"
	makeCert other other.test ca server "DNS:other.test"
	makeCert other2 other.test ca server "DNS:other.test"
	makeCert alice alice ca client
	makeCert mallory mallory otherca client
	openssl pkey -in [path server.key] -aes256 \
		-passout "pass:s3cret pw" -out [path enc.key]
	openssl pkey -in [path other.key] -aes256 \
		-passout "pass:s3cret pw" -out [path enc-other.key]
	openssl pkey -in [path other.key] -aes256 \
		-passout "pass:other pw" -out [path enc-other-own.key]
    } msg]} {
	puts stderr "tls.test: cannot make certificates: $msg"
	removeCerts
	return 0
    }
    return 1
}

proc ::tlst::removeCerts {} {
    variable certDir
    if {$certDir ne "" && [file isdirectory $certDir]} {
	file delete -force $certDir
    }
    set certDir ""
}

# tlst::fingerprint --
#	The SHA-256 fingerprint of a certificate file as openssl x509 gives
#	it, in lower-case hex without colons.

proc ::tlst::fingerprint {file} {
    set out [openssl x509 -in $file -noout -fingerprint -sha256]
    string tolower [string map {: ""} [lindex [split $out =] 1]]
}

# tlst::opts --
#	A -tls option list with the default server certificate and more.

proc ::tlst::opts {args} {
    list -certfile [path server.pem] -keyfile [path server.key] {*}$args
}

# tlst::server --
#	An instance with a TCP listener and a TLS listener (port in
#	tlst::port) with the -tls options tlsopts and the other Init
#	options initopts, and an admitted TCP client, tlst::tcp: the
#	bystander every test checks. Returns the instance.

proc ::tlst::server {{tlsopts {}} args} {
    variable port
    variable tcp
    variable listener
    if {$tlsopts eq ""} {
	set tlsopts [opts]
    }
    set mp [mptest::server]
    set listener [${mp}::Init 0 -myaddr 127.0.0.1 -tls $tlsopts {*}$args]
    set port [lindex [fconfigure $listener -sockname] 2]
    set tcp [mptest::connect [${mp}::Port]]
    mptest::admitted $mp 1
    return $mp
}

# tlst::bystander --
#	Whether the TCP bystander still receives a broadcast: 1 or 0.

proc ::tlst::bystander {mp} {
    variable tcp
    set tag "still-here-[incr ::tlst::tagCount]\n"
    if {[catch {${mp}::Broadcast $tag}]} {
	return 0
    }
    mptest::wait {[string first $tag [mptest::received $::tlst::tcp]] >= 0}
}

# tlst::stat --
#	One counter of the instance's Stats.

proc ::tlst::stat {mp name} {
    dict get [${mp}::Stats] $name
}

# tlst::stats --
#	Several counters of the instance's Stats, as a list.

proc ::tlst::stats {mp args} {
    set st [${mp}::Stats]
    lmap name $args {dict get $st $name}
}

# ---------------------------------------------------------------------
# tlsclient.py

testConstraint pyssl [expr {[file executable /usr/bin/python3]
    && ![catch {exec {*}[::tlst::envcmd] /usr/bin/python3 -c {import ssl}}]}]

# tlst::py --
#	Starts tlsclient.py on the TLS listener (options as it takes them;
#	--ca defaults to the test CA) and waits for its open or fail event
#	(with --wait, for its connected event). Returns the pipe.

proc ::tlst::py {args} {
    variable dir
    variable events
    variable pipes
    variable port
    set o [dict merge [list --ca [path ca.pem]] $args]
    if {[dict get $o --ca] eq ""} {
	dict unset o --ca
    }
    set cmd [list /usr/bin/python3 -u [file join $dir tlsclient.py] $port {*}$o]
    set p [open |[list {*}[envcmd] {*}$cmd 2>@1] r+]
    fconfigure $p -buffering line -blocking 0 -translation lf
    set events($p) {}
    lappend pipes $p
    fileevent $p readable [list ::tlst::PipeLines $p]
    if {[dict exists $o --wait]} {
	event $p {connected *} 10000
    } else {
	event $p {[of]*} 10000
    }
    return $p
}

proc ::tlst::PipeLines {p} {
    variable events
    while {[gets $p line] >= 0} {
	lappend events($p) $line
    }
    if {[eof $p]} {
	fileevent $p readable {}
	lappend events($p) exit
    }
}

# tlst::cmd --
#	Sends one command line to tlsclient.py.

proc ::tlst::cmd {p line} {
    catch {puts $p $line; flush $p}
}

# tlst::event --
#	Waits (at most ms) for an event line of tlsclient.py matching the
#	glob pattern; returns the first such line, or "" on timeout.

proc ::tlst::event {p pattern {ms 5000}} {
    variable events
    if {![mptest::wait {[lsearch -glob $::tlst::events($p) $pattern] >= 0} $ms]} {
	return ""
    }
    lindex $events($p) [lsearch -glob $events($p) $pattern]
}

# tlst::data --
#	The bytes tlsclient.py has received so far (its data events).

proc ::tlst::data {p} {
    variable events
    set out ""
    foreach e $events($p) {
	if {[lindex $e 0] eq "data"} {
	    append out [binary decode hex [lindex $e 1]]
	}
    }
    return $out
}

# tlst::waitData --
#	Waits until tlsclient.py has received a string containing text;
#	returns 1 or 0.

proc ::tlst::waitData {p text {ms 5000}} {
    mptest::wait {[string first $text [::tlst::data $p]] >= 0} $ms
}

# tlst::pysend --
#	Sends bytes from tlsclient.py and waits for its "sent" answer.

proc ::tlst::pysend {p bytes} {
    variable events
    set n [llength [lsearch -all $events($p) sent*]]
    cmd $p "send [binary encode hex $bytes]"
    mptest::wait {[llength [lsearch -all $::tlst::events($p) sent*]] > $n}
}

# tlst::ending --
#	Waits for the end of tlsclient.py's connection; returns its eof or
#	error event ("timeout" if none came within ms).

proc ::tlst::ending {p {ms 5000}} {
    set e [event $p {eof *} $ms]
    if {$e eq ""} {
	set e [event $p {error *} 10]
    }
    if {$e eq ""} {
	return timeout
    }
    return $e
}

# ---------------------------------------------------------------------
# openssl s_client

testConstraint sclient [expr {![catch {exec {*}[::tlst::envcmd] openssl version}]}]

# tlst::sclient --
#	Starts openssl s_client -quiet on the TLS listener with the test CA
#	and the given options (e.g. -servername, -alpn, -cert, -tls1_3;
#	-noquiet: without -quiet, so that it takes its command letters);
#	its output (what the server sends) accumulates in tlst::output,
#	its standard error (the certificate check's lines) goes to a file.
#	Returns the pipe.

proc ::tlst::sclient {args} {
    variable port
    variable output
    variable errFile
    variable pipes
    set err [path sclient-[incr ::tlst::sclientCount].err]
    set quiet -quiet
    if {[set i [lsearch -exact $args -noquiet]] >= 0} {
	set quiet {}
	set args [lreplace $args $i $i]
    }
    set cmd [list openssl s_client {*}$quiet -connect 127.0.0.1:$port \
	    -CAfile [path ca.pem] {*}$args]
    set p [open |[list {*}[envcmd] {*}$cmd 2> $err] r+]
    fconfigure $p -buffering none -blocking 0 -translation binary
    set output($p) ""
    set errFile($p) $err
    lappend pipes $p
    fileevent $p readable [list ::tlst::PipeBytes $p]
    return $p
}

proc ::tlst::PipeBytes {p} {
    variable output
    if {[catch {read $p} data]} {
	set data ""
    }
    append output($p) $data
    if {[catch {eof $p} e] || $e} {
	fileevent $p readable {}
	set output(eof,$p) 1
    }
}

# tlst::sout --
#	What s_client has printed (the server's data); tlst::sclosed whether
#	it has ended.

proc ::tlst::sout {p} {
    variable output
    return $output($p)
}

proc ::tlst::sclosed {p} {
    variable output
    info exists output(eof,$p)
}

# tlst::serr --
#	s_client's standard error so far.

proc ::tlst::serr {p} {
    variable errFile
    if {[catch {readFile $errFile($p)} data]} {
	return ""
    }
    return $data
}

# tlst::peerCn --
#	The common name of the server certificate s_client checked (its
#	"depth=0" line), or "" when none was reported within ms.

proc ::tlst::peerCn {p {ms 5000}} {
    mptest::wait {[regexp -line {^depth=0 .*} [::tlst::serr $p]]} $ms
    if {[regexp -line {^depth=0 .*CN ?= ?([^,\n]+)} [serr $p] -> cn]} {
	return [string trim $cn]
    }
    return ""
}

# tlst::ssend --
#	Writes a line to s_client's standard input (it sends it as data).

proc ::tlst::ssend {p line} {
    catch {puts -nonewline $p $line\n; flush $p}
}

# tlst::swait --
#	Waits until s_client's output contains text; returns 1 or 0.

proc ::tlst::swait {p text {ms 5000}} {
    mptest::wait {[string first $text [::tlst::sout $p]] >= 0} $ms
}

# ---------------------------------------------------------------------

# tlst::killAll --
#	Ends every client process started by this file (by their process
#	ids) and closes the pipes.

proc ::tlst::killAll {} {
    variable pipes
    variable events
    variable output
    variable errFile
    foreach p $pipes {
	foreach pid [pid $p] {
	    catch {exec kill -9 $pid}
	}
	catch {fconfigure $p -blocking 0}
	catch {close $p}
    }
    set pipes {}
    array unset events
    array unset output
    array unset errFile
    array set events {}
    array set output {}
    array set errFile {}
}

# tlst::admittedTls --
#	Waits until the instance has n admitted TLS clients (Stats
#	tls_clients).

proc ::tlst::admittedTls {mp n {ms 5000}} {
    mptest::wait {[dict get [${mp}::Stats] tls_clients] == $n} $ms
}

# tlst::tlsChan --
#	The channel of the most recently admitted TLS client (the last one
#	in Clients whose Peer has a tls dict), or "".

proc ::tlst::tlsChan {mp} {
    set found ""
    foreach c [${mp}::Clients] {
	set chan [lindex $c 0]
	if {[dict size [dict get [${mp}::Peer $chan] tls]] > 0} {
	    set found $chan
	}
    }
    return $found
}

# tlst::tlsChans --
#	Every admitted TLS client's channel, in Clients order.

proc ::tlst::tlsChans {mp} {
    set out {}
    foreach c [${mp}::Clients] {
	set chan [lindex $c 0]
	if {[dict size [dict get [${mp}::Peer $chan] tls]] > 0} {
	    lappend out $chan
	}
    }
    return $out
}

# tlst::cleanup --
#	Ends client processes, sockets and instances.

proc ::tlst::cleanup {} {
    killAll
    mptest::cleanup
}

# tlst::chanOfPy --
#	The server-side channel of a tlsclient.py client (matched on the
#	local port of its open event), or "".

proc ::tlst::chanOfPy {mp p} {
    set port [lindex [event $p {open *} 10] 6]
    lindex [lsearch -inline -index 2 [${mp}::Clients] $port] 0
}

# tlst::sha256 --
#	The SHA-256 of bytes (lower-case hex), by openssl dgst.

proc ::tlst::sha256 {bytes} {
    set f [path digest.bin]
    writeFile $f $bytes
    set out [openssl dgst -sha256 -r $f]
    file delete $f
    lindex $out 0
}
