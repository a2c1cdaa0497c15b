#!/usr/bin/python3
# tlsserver.py -- a TLS server for tests of Connect -tls, built on Python's
# ssl module (a TLS implementation none of us wrote).
#
#   tlsserver.py CERTFILE KEYFILE ?CAFILE?
#
# Listens on 127.0.0.1 (a free port, printed first as "port N"); serves
# one connection at a time: each line received is printed as
# "got LINE" and answered with "reply LINE\n". With CAFILE a client
# certificate signed by it is required, and its subject is printed as
# "client SUBJECT" after the handshake. Handshake failures are printed as
# "handshake-failed REASON". Runs until its standard input ends.

import select
import socket
import ssl
import sys
import threading


def serve(conn):
    buf = b""
    while True:
        try:
            data = conn.recv(65536)
        except (ssl.SSLError, OSError) as e:
            print("error", e, flush=True)
            return
        if not data:
            print("eof", flush=True)
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print("got", line.decode("utf-8", "replace"), flush=True)
            conn.sendall(b"reply " + line + b"\n")


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 3:
        ctx.load_verify_locations(sys.argv[3])
        ctx.verify_mode = ssl.CERT_REQUIRED
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    print("port", lsock.getsockname()[1], flush=True)
    # Stop when the test closes our standard input.
    threading.Thread(target=lambda: (sys.stdin.read(), lsock.close()),
                     daemon=True).start()
    while True:
        try:
            raw, _ = lsock.accept()
        except OSError:
            return
        raw.settimeout(20)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("handshake-failed", getattr(e, "reason", None) or e,
                  flush=True)
            raw.close()
            continue
        cert = conn.getpeercert()
        if cert:
            subject = ",".join("%s=%s" % kv[0] for kv in cert["subject"])
            print("client", subject, flush=True)
        print("version", conn.version(), flush=True)
        serve(conn)
        try:
            conn.close()
        except OSError:
            pass


main()
