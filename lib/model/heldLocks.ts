// POSIX locks the kernel already holds on user-stack OCFS2 volumes, from /proc/locks and
// /proc/self/mountinfo. The kernel keeps its own copy of every POSIX lock the control daemon has
// granted; the daemon's table does not survive the daemon. A daemon starting beside such locks
// (after a crash, a SIGKILL, a watchdog restart) does not know them: it says so, with the pids
// that hold them, instead of silently granting conflicting locks. Pure: the caller reads the files.

export interface MountInfoEntry {
  /** major:minor of the filesystem (decimal, as mountinfo prints it) */
  dev: string;
  dir: string;
  fstype: string;
  source: string;
  superOptions: string[];
}

const unescape = (f: string) => f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** /proc/PID/mountinfo: "ID PARENT MAJ:MIN ROOT DIR OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || sep + 3 >= f.length) continue;
    out.push({ dev: f[2]!, dir: unescape(f[4]!), fstype: f[sep + 1]!, source: unescape(f[sep + 2]!), superOptions: f[sep + 3]!.split(',') });
  }
  return out;
}

export interface KernelLock {
  kind: string; // POSIX, FLOCK, OFDLCK, LEASE
  type: string; // READ, WRITE, UNLCK
  pid: number;
  /** major:minor in decimal (converted from /proc/locks' hex) */
  dev: string;
  inode: number;
  start: number;
  /** undefined: to the end of the file (EOF) */
  end: number | undefined;
}

/** /proc/locks: "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (blocked waiters, "1: -> …", skipped). */
export function parseProcLocks(text: string): KernelLock[] {
  const out: KernelLock[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] === '->') continue;
    const m = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/i.exec(f[5]!);
    const pid = Number(f[4]);
    if (!m || !Number.isSafeInteger(pid)) continue;
    out.push({
      kind: f[1]!,
      type: f[3]!,
      pid,
      dev: `${Number.parseInt(m[1]!, 16)}:${Number.parseInt(m[2]!, 16)}`,
      inode: Number(m[3]),
      start: Number(f[6]),
      end: f[7] === 'EOF' ? undefined : Number(f[7]),
    });
  }
  return out;
}

export interface HeldLock extends KernelLock {
  /** where the volume is mounted */
  dir: string;
}

/** The POSIX locks (fcntl, lockf; not flock, which stays local) held on user-stack OCFS2 mounts. */
export function heldUserStackLocks(procLocks: string, mountInfo: string): HeldLock[] {
  const userStack = new Map<string, string>();
  for (const m of parseMountInfo(mountInfo)) if (m.fstype === 'ocfs2' && m.superOptions.some((o) => o.startsWith('cluster_stack='))) userStack.set(m.dev, m.dir);
  return parseProcLocks(procLocks)
    .filter((l) => l.kind === 'POSIX' && userStack.has(l.dev))
    .map((l) => ({ ...l, dir: userStack.get(l.dev)! }));
}
