// mount.ocfs2 behind `mount -t ocfs2` (and fstab, `mount -a`, Pacemaker's Filesystem agent): the
// same preflight and heartbeat as `o2stack mount`, mount(8)'s options and exit codes. A remount
// passes the volume's heartbeat=/cluster_stack= option again (the kernel refuses a change of
// heartbeat mode on remount) and starts nothing.
import { lstatSync } from 'node:fs';
import type { KernelBackend } from '../kernel/backend.js';
import { KernelError } from '../kernel/errors.js';
import type { SystemOps } from '../kernel/system.js';
import { checkClusterOption, classifyOptions, flagNames, MOUNT_EXIT, MS, type MountExitCode, MountOptionError, mountExitCode, MountHelperUsageError, mtabLine, parseMountHelperArgs } from '../model/mountHelper.js';
import type { PlockServer } from '../model/plockWarning.js';
import { clusterOptionFor } from '../model/preflight.js';
import { updateFileAtomic } from './configFile.js';
import { detectStack } from './detect.js';
import { type MountResult, mountVolume, type VolumeReader } from './mount.js';

export interface MountHelperDeps {
  b: KernelBackend;
  sys: SystemOps;
  read: VolumeReader;
  /** UUID=... / LABEL=... to a device path (default: none: such a spec is refused) */
  resolveSpec?: (spec: string) => string;
  controller?: () => Promise<string | undefined>;
  plockServer?: () => Promise<PlockServer>;
  /** /etc/mtab (default); written only when it is a regular file */
  mtab?: string;
  /** the effective uid (default: process.geteuid()) */
  euid?: number;
  out: (s: string) => void;
  err: (s: string) => void;
}

export interface MountHelperOutcome {
  code: MountExitCode;
  result?: MountResult | RemountResult;
}

export interface RemountResult {
  device: string;
  dir: string;
  remount: true;
  options: string;
  flags: string[];
  dryRun?: boolean;
}

class HelperError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string, readonly exitCode: MountExitCode) {
    super(message);
    this.name = 'HelperError';
  }
}

/** A device path from a spec: a path as it is; UUID=/LABEL= through `resolve`. */
function deviceOf(spec: string, resolve: MountHelperDeps['resolveSpec']): string {
  if (!/^(UUID|LABEL|PARTUUID|PARTLABEL)=/.test(spec)) return spec;
  if (!resolve) throw new HelperError('E_MOUNT_SPEC', `${spec}: cannot resolve it here`, 'give the device path', MOUNT_EXIT.USAGE);
  return resolve(spec);
}

async function remount(d: MountHelperDeps, device: string, dir: string, opts: ReturnType<typeof classifyOptions>, fake: boolean): Promise<RemountResult> {
  const m = detectStack(d.b).mounts.find((x) => x.dir === dir || (dir === '' && x.device === device));
  if (!m) throw new HelperError('E_MOUNT_NOT_MOUNTED', `cannot remount ${dir}: no OCFS2 volume is mounted there`, `mount it first: mount -t ocfs2 ${device} ${dir}`, MOUNT_EXIT.FAIL);
  // the mode the volume runs with comes back unchanged; nothing starts (heartbeat runs already)
  const needed = clusterOptionFor((await d.read(m.device, { heartbeat: false })).superblock);
  checkClusterOption(opts, needed, m.device);
  const options = [needed, ...opts.data].join(',');
  if (!fake) await d.sys.mount(m.device, m.dir, 'ocfs2', options, opts.flags);
  return { device: m.device, dir: m.dir, remount: true, options, flags: flagNames(opts.flags), ...(fake ? { dryRun: true } : {}) };
}

/** Adds the mount to /etc/mtab when that is a file of its own (not the usual link to /proc/self/mounts). */
async function recordMtab(path: string, line: string): Promise<boolean> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false; // no mtab: nothing to keep up to date
  }
  if (!st.isFile()) return false;
  try {
    await updateFileAtomic(path, (current) => (current ?? '') + line, { mode: st.mode & 0o7777 }); // read and append under the lock
  } catch (e) {
    throw new HelperError('E_MOUNT_MTAB', `mounted, but ${path} could not be updated: ${(e as Error).message}`, `mount with -n to leave ${path} alone, or make it a link to /proc/self/mounts (ln -sf /proc/self/mounts ${path})`, MOUNT_EXIT.FILEIO);
  }
  return true;
}

/** Runs mount.ocfs2 with its arguments (without the program name); reports on out/err and returns the exit code. */
export async function runMountHelper(argv: string[], d: MountHelperDeps): Promise<MountHelperOutcome> {
  let verbose = false;
  const say = (s: string) => verbose && d.out(`mount.ocfs2: ${s}\n`);
  try {
    const a = parseMountHelperArgs(argv);
    verbose = a.verbose;
    const opts = classifyOptions(a.options, a.sloppy);
    if (!a.fake && (d.euid ?? process.geteuid?.() ?? 0) !== 0) {
      throw new HelperError('E_MOUNT_PERMISSION', 'only root can mount OCFS2 volumes (the helper starts heartbeat and writes configfs)', `run as root: sudo mount -t ocfs2 ${a.spec} ${a.dir}`, MOUNT_EXIT.USAGE);
    }
    const device = deviceOf(a.spec, d.resolveSpec);
    if (device !== a.spec) say(`${a.spec} is ${device}`);
    if (opts.userspace.length) say(`not passed to the kernel: ${opts.userspace.join(',')}`);
    if (opts.dropped.length) say(`-s: dropped options OCFS2 does not know: ${opts.dropped.join(',')}`);
    if (opts.remount) {
      const r = await remount(d, device, a.dir, opts, a.fake);
      say(`${a.fake ? 'would remount' : 'remounted'} ${r.device} on ${r.dir} with ${r.options} (${r.flags.join(',')}); heartbeat left as it runs`);
      return { code: MOUNT_EXIT.OK, result: r };
    }
    const r = await mountVolume(d.b, d.sys, d.read, {
      device,
      dir: a.dir,
      options: opts.data,
      flags: opts.flags,
      givenClusterOptions: { ...(opts.heartbeat ? { heartbeat: opts.heartbeat } : {}), ...(opts.clusterStack ? { clusterStack: opts.clusterStack } : {}) },
      dryRun: a.fake,
      ...(d.controller ? { controller: d.controller } : {}),
      ...(d.plockServer ? { plockServer: d.plockServer } : {}),
    });
    for (const w of r.warnings ?? []) d.err(`mount.ocfs2: warning (${w.code}): ${w.message}\n  fix: ${w.fix}\n`);
    const what = r.kind === 'user' ? `user-stack volume (${r.options.split(',')[0]})` : r.kind === 'local' ? 'local (non-clustered) volume' : `o2cb volume of cluster '${r.cluster}' (${r.options.split(',')[0]})`;
    if (r.dryRun) {
      say(`${device} (${r.uuid}): ${what}: the preflight passes; -f: nothing started, nothing mounted`);
      return { code: MOUNT_EXIT.OK, result: r };
    }
    if (r.heartbeat) say(r.heartbeat.alreadyRunning ? `heartbeat already runs on ${r.heartbeat.dev}` : `heartbeat started on ${r.heartbeat.dev} in ${(r.heartbeat.ms / 1000).toFixed(1)} s`);
    say(`mounted ${device} (${r.uuid}), ${what}, on ${a.dir} with ${r.options} (${flagNames(opts.flags).join(',')}) in ${(r.mountMs / 1000).toFixed(1)} s (o2stack)`);
    if (!a.noMtab && (await recordMtab(d.mtab ?? '/etc/mtab', mtabLine(device, a.dir, [...flagNames(opts.flags), r.options, ...(opts.netdev ? ['_netdev'] : [])])))) say(`recorded in ${d.mtab ?? '/etc/mtab'}`);
    return { code: MOUNT_EXIT.OK, result: r };
  } catch (e) {
    const x = e as { message?: string; hint?: string; code?: string };
    if (e instanceof MountHelperUsageError && e.message === 'help') {
      d.out(`${e.hint}\n  -s sloppy: drop options OCFS2 does not know   -f fake: preflight only   -n: leave /etc/mtab alone   -v: verbose\n`);
      return { code: MOUNT_EXIT.OK };
    }
    const code = mountExitCode(e);
    const known = e instanceof Error && typeof x.code === 'string';
    d.err(`mount.ocfs2: ${known ? x.message : `internal error: ${(e as Error)?.stack ?? String(e)}`}\n`);
    if (known && x.hint && !x.message!.includes(x.hint)) d.err(`  fix: ${x.hint}\n`);
    return { code };
  }
}

export { KernelError, MountOptionError, MS };
