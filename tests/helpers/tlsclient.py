#!/usr/bin/python3
# tlsclient.py --
#
#	A TLS client for tls.test built on Python's ssl module (blocking
#	handshake, then one thread driving the socket and standard input
#	with select). Usage:
#
#	    tlsclient.py PORT ?option value ...?
#
#	    --ca FILE          trust these CA certificates (else no check)
#	    --cert FILE --key FILE   present this client certificate
#	    --servername NAME  SNI name and the name checked (default
#	                       localhost; "-" sends none and checks none)
#	    --alpn P1,P2       offer these ALPN protocols
#	    --version 1.2|1.3  only this TLS version
#	    --rcvbuf N         SO_RCVBUF before connecting (a slow reader)
#	    --wait 1           once connected, report "connected PORT" and
#	                       wait for a line "go" before the handshake
#
#	It reports on standard output, one event a line:
#	    open VERSION CIPHER ALPN|- SHA256 CN|- PORT
#	                       the handshake succeeded; SHA256 is the
#	                       server certificate's fingerprint, CN its
#	                       subject's common name, PORT the local port
#	    fail TEXT          the connection or handshake failed
#	    data HEX           bytes arrived (unless in sink mode)
#	    eof clean          close_notify arrived (recv returned b'')
#	    eof unclean        the connection ended without close_notify
#	    eof reset          the connection was reset
#	    error TEXT         another TLS error while reading (an alert)
#	    digest N SHA256    answer to "digest": bytes received so far in
#	                       sink mode and their SHA-256
#	    sent N             answer to "send" and "sendrecords"
#	    unwrapped | unwrap-failed TEXT   answer to "unwrap"
#	    closed             answer to "close"
#	and takes commands on standard input, one a line:
#	    send HEX           send bytes (one record per 16 KiB)
#	    sendrecords N SIZE send N records of SIZE bytes ("a", "b", ...
#	                       cycling) at once
#	    sendlater MS HEX   send bytes MS milliseconds from now
#	    hold | read        stop | resume reading the socket
#	    pace BYTES MS      read at most BYTES, then wait MS, and so on
#	    sink               count and hash what arrives instead of
#	                       printing it
#	    digest             report the count and hash
#	    unwrap             send close_notify (SSLSocket.unwrap)
#	    close              close the socket without close_notify
#	    quit               exit at once

import hashlib
import os
import select
import socket
import ssl
import sys
import time


def say(*words):
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()


def text(e):
    return (str(e) or e.__class__.__name__).replace("\n", " ")


def common_name(cert):
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return "-"


def main():
    port = int(sys.argv[1])
    opts = {"--ca": None, "--cert": None, "--key": None,
            "--servername": "localhost", "--alpn": None,
            "--version": None, "--rcvbuf": None, "--wait": None}
    args = sys.argv[2:]
    for i in range(0, len(args) - 1, 2):
        if args[i] not in opts:
            say("fail", "unknown option " + args[i])
            return
        opts[args[i]] = args[i + 1]

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # An end without close_notify must show (Python sets this option).
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    name = opts["--servername"]
    if name == "-":
        name = None
    if opts["--ca"]:
        ctx.load_verify_locations(opts["--ca"])
        ctx.check_hostname = name is not None
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if opts["--cert"]:
        ctx.load_cert_chain(opts["--cert"], opts["--key"])
    if opts["--alpn"]:
        ctx.set_alpn_protocols(opts["--alpn"].split(","))
    if opts["--version"]:
        v = {"1.2": ssl.TLSVersion.TLSv1_2,
             "1.3": ssl.TLSVersion.TLSv1_3}[opts["--version"]]
        ctx.minimum_version = v
        ctx.maximum_version = v

    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if opts["--rcvbuf"]:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                       int(opts["--rcvbuf"]))
    raw.settimeout(10)
    try:
        raw.connect(("127.0.0.1", port))
        if opts["--wait"]:
            say("connected", str(raw.getsockname()[1]))
            if sys.stdin.readline().strip() != "go":
                return
        s = ctx.wrap_socket(raw, server_hostname=name,
                            suppress_ragged_eofs=False)
    except Exception as e:
        say("fail", text(e))
        return
    der = s.getpeercert(binary_form=True)
    fp = hashlib.sha256(der).hexdigest() if der else "-"
    cn = common_name(s.getpeercert() or {}) if opts["--ca"] else "-"
    say("open", s.version(), s.cipher()[0],
        s.selected_alpn_protocol() or "-", fp, cn,
        str(s.getsockname()[1]))

    s.setblocking(False)
    os.set_blocking(0, False)
    inbuf = b""
    holding = False
    pace_bytes, pace_ms, next_read = 0, 0, 0.0
    sink = False
    count = 0
    digest = hashlib.sha256()
    ended = False
    stdin_open = True

    def send_all(data):
        s.settimeout(30)
        try:
            s.sendall(data)
        finally:
            s.setblocking(False)

    later = []

    while stdin_open:
        now = time.monotonic()
        while later and later[0][0] <= now:
            when, data = later.pop(0)
            try:
                send_all(data)
                say("sent", str(len(data)))
            except Exception as e:
                say("error", text(e))
        want_sock = not ended and not holding and now >= next_read
        if want_sock and s.pending() > 0:
            timeout = 0
        elif not ended and not holding and now < next_read:
            timeout = next_read - now
        else:
            timeout = None
        if later:
            wait = max(0.0, later[0][0] - now)
            timeout = wait if timeout is None else min(timeout, wait)
        rlist = [0] + ([s] if want_sock else [])
        r, _, _ = select.select(rlist, [], [], timeout)

        if 0 in r:
            chunk = os.read(0, 65536)
            if not chunk:
                stdin_open = False
            inbuf += chunk
            while b"\n" in inbuf:
                line, inbuf = inbuf.split(b"\n", 1)
                words = line.decode().split()
                if not words:
                    continue
                cmd = words[0]
                try:
                    if cmd == "send":
                        data = bytes.fromhex(words[1])
                        send_all(data)
                        say("sent", str(len(data)))
                    elif cmd == "sendrecords":
                        n, size = int(words[1]), int(words[2])
                        total = 0
                        for k in range(n):
                            rec = bytes([97 + k % 26]) * size
                            send_all(rec)
                            total += size
                        say("sent", str(total))
                    elif cmd == "sendlater":
                        later.append((time.monotonic() + int(words[1]) / 1000.0,
                                      bytes.fromhex(words[2])))
                    elif cmd == "hold":
                        holding = True
                    elif cmd == "read":
                        holding = False
                    elif cmd == "pace":
                        pace_bytes, pace_ms = int(words[1]), int(words[2])
                    elif cmd == "sink":
                        sink = True
                    elif cmd == "digest":
                        say("digest", str(count), digest.hexdigest())
                    elif cmd == "unwrap":
                        s.settimeout(5)
                        try:
                            s.unwrap()
                            say("unwrapped")
                        except Exception as e:
                            say("unwrap-failed", text(e))
                    elif cmd == "close":
                        s.close()
                        ended = True
                        say("closed")
                    elif cmd == "quit":
                        return
                except Exception as e:
                    say("error", text(e))

        if ended or holding or time.monotonic() < next_read:
            continue
        if s not in r and s.pending() == 0:
            continue
        # Read what is there (until it would block; paced: at most
        # pace_bytes, then wait pace_ms).
        budget = pace_bytes
        while True:
            size = budget if pace_bytes > 0 else 65536
            try:
                data = s.recv(size)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError):
                break
            except ssl.SSLZeroReturnError:
                say("eof clean")
                ended = True
                break
            except ssl.SSLEOFError:
                say("eof unclean")
                ended = True
                break
            except ConnectionResetError:
                say("eof reset")
                ended = True
                break
            except ssl.SSLError as e:
                if getattr(e, "reason", "") == "UNEXPECTED_EOF_WHILE_READING":
                    say("eof unclean")
                else:
                    say("error", text(e))
                ended = True
                break
            except OSError as e:
                say("error", text(e))
                ended = True
                break
            if data == b"":
                say("eof clean")
                ended = True
                break
            if sink:
                count += len(data)
                digest.update(data)
            else:
                say("data", data.hex())
            if pace_bytes > 0:
                budget -= len(data)
                if budget <= 0:
                    next_read = time.monotonic() + pace_ms / 1000.0
                    break


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
