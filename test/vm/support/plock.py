#!/usr/bin/env python3
# POSIX (fcntl) record locks for the VM suites: Node has no fcntl locking, Python's fcntl module
# does (the guest sees the host's root, python3 included). One command per run:
#   plock.py try   PATH START LEN ex|sh   F_SETLK; prints "granted" or "EAGAIN" (errno name), then exits (the lock goes with it)
#   plock.py hold  PATH START LEN ex|sh   F_SETLK; prints "held" (or the errno name and exits 1), then holds until killed or stdin closes
#   plock.py wait  PATH START LEN ex|sh   F_SETLKW; prints "granted MS" when it got the lock, then holds like hold
#   plock.py getlk PATH START LEN ex|sh   F_GETLK; prints "unlocked" or "locked ex|sh START LEN PID" (PID < 0: a process on another node)
# Every output line is flushed at once: the suite reads them from a pipe.
import errno
import fcntl
import os
import struct
import sys
import time


def flock_struct(kind, start, length):
    # struct flock on x86_64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (32 bytes)
    return struct.pack('hhqqi', kind, os.SEEK_SET, start, length, 0) + b'\0' * 4


def say(s):
    sys.stdout.write(s + '\n')
    sys.stdout.flush()


def hold_forever():
    try:
        sys.stdin.read()  # returns when the suite closes our stdin (or kills us)
    except Exception:
        pass
    time.sleep(3600)


def main():
    if len(sys.argv) != 6:
        sys.stderr.write('usage: plock.py try|hold|wait|getlk PATH START LEN ex|sh\n')
        return 2
    cmd, path, start, length, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    kind = fcntl.F_WRLCK if mode == 'ex' else fcntl.F_RDLCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if cmd == 'getlk':
        out = fcntl.fcntl(fd, fcntl.F_GETLK, flock_struct(kind, start, length))
        t, _w, s, l, pid = struct.unpack('hhqqi', out[:28])
        if t == fcntl.F_UNLCK:
            say('unlocked')
        else:
            say('locked %s %d %d %d' % ('ex' if t == fcntl.F_WRLCK else 'sh', s, l, pid))
        return 0
    t0 = time.monotonic()
    try:
        fcntl.fcntl(fd, fcntl.F_SETLKW if cmd == 'wait' else fcntl.F_SETLK, flock_struct(kind, start, length))
    except OSError as e:
        say(errno.errorcode.get(e.errno, str(e.errno)))
        return 1 if cmd != 'try' else 0
    ms = int((time.monotonic() - t0) * 1000)
    if cmd == 'try':
        say('granted')
        return 0
    say('held' if cmd == 'hold' else 'granted %d' % ms)
    hold_forever()
    return 0


if __name__ == '__main__':
    sys.exit(main())
