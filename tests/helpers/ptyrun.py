#!/usr/bin/python3
# ptyrun.py --
#
#	Runs a command with a new pseudo-terminal as its controlling
#	terminal (in a session of its own, so it can never read the
#	terminal of whoever runs the tests) for at most SECONDS. Usage:
#
#	    ptyrun.py SECONDS COMMAND ?ARG ...?
#
#	Prints what the command wrote on the terminal, then one last line:
#	"ptyrun: exit N" when it ended by itself with status N, or
#	"ptyrun: timeout" when it was still running (it is then killed).
#	Nothing is ever typed on the terminal. PTYRUN_LD_PRELOAD, if set,
#	becomes the command's LD_PRELOAD (a sanitizer runtime).

import os
import pty
import select
import signal
import sys
import time


def main():
    secs = float(sys.argv[1])
    cmd = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        if os.environ.get("PTYRUN_LD_PRELOAD"):
            os.environ["LD_PRELOAD"] = os.environ["PTYRUN_LD_PRELOAD"]
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    out = b""
    status = None
    readable = True
    end = time.monotonic() + secs
    while status is None and time.monotonic() < end:
        if readable:
            r, _, _ = select.select([fd], [], [], 0.05)
            if fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if data:
                    out += data
                    continue
                readable = False
        else:
            time.sleep(0.05)
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = st
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    else:
        try:
            while True:
                r, _, _ = select.select([fd], [], [], 0.05)
                if fd not in r:
                    break
                data = os.read(fd, 4096)
                if not data:
                    break
                out += data
        except OSError:
            pass
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
    if status is None:
        print("\nptyrun: timeout")
    else:
        print("\nptyrun: exit %d" % os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
