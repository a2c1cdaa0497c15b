#!/usr/bin/python3
# wsclient.py --
#
#	A WebSocket client for websocket.test built on python3-websockets
#	(10.x, the asyncio API). Usage:
#
#	    wsclient.py URL ?SUBPROTOCOL ...?
#
#	A wss:// URL is checked against the CA certificates of the file
#	named by the environment variable WSCLIENT_CAFILE when it is set
#	(else the system's).
#
#	It reports on standard output, one event a line, payloads in hex:
#	    open SUBPROTOCOL|-        the handshake succeeded
#	    text HEX | binary HEX     a message arrived
#	    pong                      the answer to our ping arrived
#	    close CODE HEXREASON      the connection is closed (server's code,
#	                              or 1006 and - when none arrived)
#	    fail TEXT                 the connection could not be opened
#	and takes commands on standard input, one a line:
#	    text HEX | binary HEX     send a message
#	    ping                      send a ping and report its pong
#	    close CODE HEXREASON      start the closing handshake
#	    quit                      exit at once

import asyncio
import os
import ssl
import sys

import websockets


def say(*words):
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()


async def reader(ws):
    try:
        async for msg in ws:
            if isinstance(msg, str):
                say("text", msg.encode("utf-8").hex() or "-")
            else:
                say("binary", bytes(msg).hex() or "-")
    except websockets.ConnectionClosed:
        pass
    code = ws.close_code if ws.close_code is not None else 1006
    reason = (ws.close_reason or "").encode("utf-8").hex() or "-"
    say("close", str(code), reason)


async def pinger(ws):
    try:
        waiter = await ws.ping()
        await waiter
        say("pong")
    except websockets.ConnectionClosed:
        pass


def unhex(s):
    return b"" if s == "-" else bytes.fromhex(s)


async def main():
    url = sys.argv[1]
    subs = sys.argv[2:] or None
    extra = {}
    if url.startswith("wss:") and os.environ.get("WSCLIENT_CAFILE"):
        extra["ssl"] = ssl.create_default_context(
            cafile=os.environ["WSCLIENT_CAFILE"])
    try:
        ws = await websockets.connect(url, subprotocols=subs,
                                      ping_interval=None, max_size=None,
                                      open_timeout=10, **extra)
    except Exception as e:
        say("fail", str(e).replace("\n", " "))
        return
    say("open", ws.subprotocol or "-")
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(reader(ws))
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line == "":
            break
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if cmd == "text":
                await ws.send(unhex(words[1]).decode("utf-8"))
            elif cmd == "binary":
                await ws.send(unhex(words[1]))
            elif cmd == "ping":
                asyncio.ensure_future(pinger(ws))
            elif cmd == "close":
                await ws.close(int(words[1]),
                               unhex(words[2]).decode("utf-8"))
            elif cmd == "quit":
                break
        except websockets.ConnectionClosed:
            pass
    task.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
