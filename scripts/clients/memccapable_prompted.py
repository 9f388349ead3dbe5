"""Runs memccapable with -P (prompt before each test) on a pseudo-terminal and answers each prompt
when it appears, skipping the tests named on the command line. (Through pipes memccapable's
prompt stays in its stdio buffer, and read() swallows several piped answers at once.)

Usage: memccapable_prompted.py SKIP_TEST[,SKIP_TEST...] memccapable ARGS...
Prints the suite's report; exits non-zero when a test failed.
"""
import os
import pty
import subprocess
import sys
import termios

PROMPT = b"Press <return> when you are ready?"


def main():
    skip = set(t for t in sys.argv[1].split(",") if t)
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO  # no echo of our answers in the report
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    p = subprocess.Popen(sys.argv[2:] + ["-P"], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    asked = 0
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        while out.count(PROMPT) > asked:
            before = out.split(PROMPT)[asked]
            name = before.replace(b"\r", b"").decode().rstrip().split("\n")[-1]
            name = name.split("[")[0].strip() if "[" not in name else name.split("]")[-1].strip()
            asked += 1
            os.write(master, b"skip\n" if name in skip else b"go\n")
    rc = p.wait()
    text = out.replace(b"\r", b"").replace(PROMPT + b" ", b"\n").decode()
    sys.stdout.write(text)
    sys.exit(1 if "[FAIL]" in text or rc != 0 else 0)


if __name__ == "__main__":
    main()
