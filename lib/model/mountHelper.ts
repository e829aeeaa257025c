// mount.ocfs2, the helper mount(8) runs for `mount -t ocfs2`: its command line, its mount options
// and its exit codes. Pure: the orchestration is lib/stack/mountHelper.ts.
//
// mount(8) (libmount) runs a helper as `/sbin/mount.<type> SPEC DIR [-sfnv] [-N NS] [-o OPTIONS]
// [-t TYPE.SUBTYPE]`; SPEC is already resolved (LABEL= and UUID= are resolved by mount(8) itself,
// but a helper run by hand may get them). The options arrive as one string: generic ones (ro,
// noatime, remount...) that the helper turns into mount(2) flags, userspace ones that only mean
// something to mount(8), systemd or the helper (_netdev, nofail, x-*...), and the filesystem's own,
// which go to the kernel as mount(2)'s data.

/** mount(8)'s exit codes (see mount(8), "RETURN CODES"); a helper returns the same ones. */
export const MOUNT_EXIT = {
  OK: 0,
  /** incorrect invocation or permissions */
  USAGE: 1,
  /** system error (out of memory, cannot fork, a missing module or addon) */
  SYSERR: 2,
  /** internal mount bug */
  SOFTWARE: 4,
  /** user interrupt */
  USER: 8,
  /** problems writing or locking /etc/mtab */
  FILEIO: 16,
  /** mount failure (a refusal of the preflight, or mount(2) failed) */
  FAIL: 32,
  /** some mount succeeded (mount -a); a helper mounts one volume and never returns it */
  SOMEOK: 64,
} as const;

export type MountExitCode = (typeof MOUNT_EXIT)[keyof typeof MOUNT_EXIT];

export const MOUNT_HELPER_USAGE = 'usage: mount.ocfs2 DEVICE DIR [-sfnv] [-o OPTIONS]   (run by mount -t ocfs2; DEVICE may be UUID=... or LABEL=...)';

export interface MountHelperArgs {
  /** DEVICE as given (a path, UUID=..., LABEL=...) */
  spec: string;
  dir: string;
  /** -s: options this helper does not know for OCFS2 are dropped instead of refused by the kernel */
  sloppy: boolean;
  /** -f: everything but the mount (the preflight runs, nothing is started or mounted) */
  fake: boolean;
  /** -n: never write /etc/mtab */
  noMtab: boolean;
  /** -v: say each step */
  verbose: boolean;
  /** -o, every occurrence, split at commas */
  options: string[];
}

export class MountHelperUsageError extends Error {
  readonly code = 'E_MOUNT_HELPER_USAGE';
  readonly exitCode = MOUNT_EXIT.USAGE;
  readonly hint = MOUNT_HELPER_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'MountHelperUsageError';
  }
}

/** Splits an option string at commas, keeping quoted commas ("context=\"a,b\"") inside one option. */
export function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new MountHelperUsageError(`unbalanced quote in the mount options '${s}'`);
  if (cur) out.push(cur);
  return out;
}

/**
 * Parses the helper's arguments (without the program name). Flags may come before, between or
 * after the two positionals, grouped (-nv) or not; -o takes the next word or the rest of its own
 * (-onoatime); -t must name ocfs2; -N (another mount namespace) is refused.
 */
export function parseMountHelperArgs(argv: string[]): MountHelperArgs {
  const pos: string[] = [];
  const r: MountHelperArgs = { spec: '', dir: '', sloppy: false, fake: false, noMtab: false, verbose: false, options: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      pos.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const f = a[j]!;
      if (f === 's') r.sloppy = true;
      else if (f === 'f') r.fake = true;
      else if (f === 'n') r.noMtab = true;
      else if (f === 'v') r.verbose = true;
      else if (f === 'o' || f === 't' || f === 'N') {
        const rest = a.slice(j + 1);
        const val = rest !== '' ? rest : argv[++i];
        if (val === undefined || val === '') throw new MountHelperUsageError(`option -${f} needs a value`);
        if (f === 'o') r.options.push(...splitOptions(val));
        else if (f === 't') {
          if (val !== 'ocfs2' && !val.startsWith('ocfs2.')) throw new MountHelperUsageError(`-t ${val}: this helper mounts OCFS2 only`);
        } else {
          throw new MountHelperUsageError(`-N ${val}: mounting in another mount namespace is not supported by this helper; run mount in that namespace (nsenter -m)`);
        }
        break;
      } else if (f === 'h') {
        throw new MountHelperUsageError('help');
      } else {
        throw new MountHelperUsageError(`unknown option -${f}`);
      }
    }
  }
  if (pos.length !== 2) throw new MountHelperUsageError(pos.length < 2 ? 'DEVICE and DIR are both needed' : `too many arguments: ${pos.slice(2).join(' ')}`);
  r.spec = pos[0]!;
  r.dir = pos[1]!;
  return r;
}

// mount(2) flags (linux/mount.h)
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  SILENT: 32768,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** Generic options: [flag, true = set it, false = clear it]. */
const FLAG_OPTIONS: Record<string, [number, boolean]> = {
  ro: [MS.RDONLY, true],
  rw: [MS.RDONLY, false],
  nosuid: [MS.NOSUID, true],
  suid: [MS.NOSUID, false],
  nodev: [MS.NODEV, true],
  dev: [MS.NODEV, false],
  noexec: [MS.NOEXEC, true],
  exec: [MS.NOEXEC, false],
  sync: [MS.SYNCHRONOUS, true],
  async: [MS.SYNCHRONOUS, false],
  dirsync: [MS.DIRSYNC, true],
  remount: [MS.REMOUNT, true],
  mand: [MS.MANDLOCK, true],
  nomand: [MS.MANDLOCK, false],
  noatime: [MS.NOATIME, true],
  atime: [MS.NOATIME, false],
  nodiratime: [MS.NODIRATIME, true],
  diratime: [MS.NODIRATIME, false],
  relatime: [MS.RELATIME, true],
  norelatime: [MS.RELATIME, false],
  strictatime: [MS.STRICTATIME, true],
  nostrictatime: [MS.STRICTATIME, false],
  lazytime: [MS.LAZYTIME, true],
  nolazytime: [MS.LAZYTIME, false],
  silent: [MS.SILENT, true],
  loud: [MS.SILENT, false],
  nosymfollow: [MS.NOSYMFOLLOW, true],
  symfollow: [MS.NOSYMFOLLOW, false],
};

/** Options for mount(8), fstab and systemd only: never passed to the kernel. */
const USERSPACE_OPTIONS = new Set(['defaults', 'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group', 'nofail', '_netdev']);
const USERSPACE_PREFIXES = ['x-', 'comment=', 'X-', 'helper='];

/** OCFS2's own options (the kernel's option table, 6.1): anything else is unknown to -s. */
const OCFS2_OPTIONS = new Set(['intr', 'nointr', 'localflocks', 'user_xattr', 'nouser_xattr', 'inode64', 'acl', 'noacl', 'usrquota', 'grpquota', 'journal_async_commit', 'nocluster']);
const OCFS2_VALUE_OPTIONS = new Set(['barrier', 'errors', 'data', 'atime_quantum', 'preferred_slot', 'commit', 'localalloc', 'coherency', 'resv_level', 'dir_resv_level', 'heartbeat', 'cluster_stack']);

export interface ClassifiedOptions {
  /** mount(2) flags */
  flags: number;
  /** -o remount */
  remount: boolean;
  readOnly: boolean;
  /** _netdev was given (needs the network: recorded in /etc/mtab, never passed to the kernel) */
  netdev: boolean;
  /** the filesystem's options, in order: mount(2)'s data (without heartbeat= and cluster_stack=) */
  data: string[];
  /** options for mount(8) and systemd only, dropped */
  userspace: string[];
  /** -s: options unknown to OCFS2, dropped */
  dropped: string[];
  /** heartbeat= / cluster_stack= as given, checked against the disk by the caller */
  heartbeat?: string;
  clusterStack?: string;
}

export class MountOptionError extends Error {
  readonly exitCode = MOUNT_EXIT.FAIL;
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'MountOptionError';
  }
}

/** Sorts -o options into flags, data for the kernel, and options the kernel must not see. */
export function classifyOptions(options: string[], sloppy = false): ClassifiedOptions {
  const r: ClassifiedOptions = { flags: 0, remount: false, readOnly: false, netdev: false, data: [], userspace: [], dropped: [] };
  for (const o of options) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const flag = FLAG_OPTIONS[o];
    if (flag) {
      r.flags = flag[1] ? r.flags | flag[0] : r.flags & ~flag[0];
      continue;
    }
    if (USERSPACE_OPTIONS.has(o) || USERSPACE_PREFIXES.some((p) => o.startsWith(p))) {
      r.userspace.push(o);
      if (o === '_netdev') r.netdev = true;
      continue;
    }
    if (key === 'heartbeat' || key === 'cluster_stack') {
      const v = o.slice(eq + 1);
      if (eq < 0 || v === '') throw new MountOptionError('E_MOUNT_OPTION', `-o ${o}: ${key} needs a value`, `drop it: the helper adds ${key}= from the volume's superblock`);
      if (key === 'heartbeat') r.heartbeat = v;
      else r.clusterStack = v;
      continue;
    }
    if (o === 'nocluster') {
      throw new MountOptionError('E_MOUNT_NOCLUSTER', `-o nocluster mounts a clustered volume on this node alone, without the cluster: this helper does not do that (other nodes could mount it at the same time and corrupt it)`, 'mount it through the cluster (o2stack start, or the user-stack daemon), or, with the volume unmounted everywhere and the cluster down for good: tunefs.ocfs2 -M local DEVICE');
    }
    const known = eq < 0 ? OCFS2_OPTIONS.has(o) : OCFS2_VALUE_OPTIONS.has(key);
    if (!known && sloppy) {
      r.dropped.push(o);
      continue;
    }
    r.data.push(o); // unknown without -s: the kernel refuses it (EINVAL), and says so in dmesg
  }
  r.remount = (r.flags & MS.REMOUNT) !== 0;
  r.readOnly = (r.flags & MS.RDONLY) !== 0;
  return r;
}

/** The cluster option the disk needs vs the one given with -o: the given one must agree. */
export function checkClusterOption(given: Pick<ClassifiedOptions, 'heartbeat' | 'clusterStack'>, needed: string, device: string): void {
  const [key, value] = needed.split('=') as [string, string];
  for (const [k, v] of [
    ['heartbeat', given.heartbeat],
    ['cluster_stack', given.clusterStack],
  ] as const) {
    if (v === undefined) continue;
    if (k !== key || v !== value) {
      throw new MountOptionError(
        'E_MOUNT_CLUSTER_OPTION',
        `-o ${k}=${v} does not match ${device}: its superblock needs ${needed}`,
        `drop ${k}=${v} from the options (fstab too): the helper adds ${needed} itself`,
      );
    }
  }
}

/** The flags as option names, for -v and /etc/mtab (ro or rw first, as mount(8) writes them). */
export function flagNames(flags: number): string[] {
  const names = [(flags & MS.RDONLY) !== 0 ? 'ro' : 'rw'];
  for (const [name, [bit, set]] of Object.entries(FLAG_OPTIONS)) {
    if (set && bit !== MS.RDONLY && bit !== MS.REMOUNT && (flags & bit) !== 0) names.push(name);
  }
  return names;
}

/** One /etc/mtab line (fields escaped as the kernel escapes /proc/mounts). */
export function mtabLine(device: string, dir: string, options: string[]): string {
  const esc = (s: string) => s.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return `${esc(device)} ${esc(dir)} ocfs2 ${options.join(',')} 0 0\n`;
}

/**
 * mount(8)'s exit code for an error the helper met: its own exitCode when it has one (usage 1,
 * refusal 32), permission 1, a failed mount(2) 32, anything the system lacks 2.
 */
export function mountExitCode(e: unknown): MountExitCode {
  const x = e as { exitCode?: unknown; code?: unknown; syscall?: unknown; name?: unknown } | undefined;
  if (typeof x?.exitCode === 'number' && (Object.values(MOUNT_EXIT) as number[]).includes(x.exitCode)) return x.exitCode as MountExitCode;
  const code = typeof x?.code === 'string' ? x.code : '';
  if (code === 'EACCES' || code === 'EPERM') return MOUNT_EXIT.USAGE;
  if (code === 'E_NO_ADDON' || code === 'E_MODPROBE' || code === 'ENOMEM' || code === 'E_NO_STACKGLUE') return MOUNT_EXIT.SYSERR;
  // a refused preflight (E_PREFLIGHT), mount(2)'s errno (the MountError carries it), a volume
  // that cannot be read or found, a heartbeat that did not start: the mount failed
  if (code.startsWith('E') && code !== 'E_INTERNAL') return MOUNT_EXIT.FAIL;
  return MOUNT_EXIT.SOFTWARE;
}
