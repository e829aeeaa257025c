// o2stack helpers install | remove: reads what the helper's path holds (the file, dpkg's owner,
// the backup manifest), plans with lib/model/helperInstall.ts and carries the plan out. Every file
// is written atomically (temp sibling, fsync, rename); the backup is a byte copy with its mode.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeConfigFileAtomic } from './configFile.js';
import { OCF_AGENT_NAMES, OCF_PROVIDER_DIR, planOcfInstall, planOcfRemove, type OcfAgentFacts, type OcfAgentName, type OcfPlan } from '../model/ocfAgents.js';
import { type ExistingFile, HELPER_MARKER, HELPER_STATE_DIR, type HelperFacts, type HelperManifest, type HelperPlan, MOUNT_HELPER_NAME, manifestPath, planInstall, planRemove, type InstallChoice } from '../model/helperInstall.js';

export interface HelperEnv {
  /** a root to install into (a chroot, or a scratch tree in tests); default / */
  root?: string;
  /** the directory mount(8) searches (default /sbin) */
  sbin?: string;
  stateDir?: string;
  /** the package owning a path, by dpkg (default: dpkg-query -S, only for root /) */
  packageOf?: (path: string) => string | null;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** dpkg-query -S for each name of the path (dpkg knows /sbin/x, not /usr/sbin/x, on merged /usr). */
export function dpkgOwner(paths: string[]): string | null {
  for (const p of paths) {
    try {
      const out = execFileSync('dpkg-query', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 });
      const line = out.split('\n').find((l) => l.endsWith(`: ${p}`));
      if (line) return line.slice(0, line.indexOf(':')).split(',')[0]!.trim();
    } catch {
      /* not a dpkg system, or no owner */
    }
  }
  return null;
}

function inRoot(root: string, p: string): string {
  return root === '/' ? p : join(root, p);
}

function existing(path: string, newHelper: string, owner: string | null): ExistingFile | null {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  if (st.isSymbolicLink()) {
    let content: Buffer | undefined;
    try {
      content = readFileSync(path);
    } catch {
      content = undefined; // a dangling link
    }
    const ours = content !== undefined && content.toString('latin1').includes(HELPER_MARKER);
    return { kind: 'symlink', linkTarget: readlinkSync(path), ours, sameAsNew: false, package: owner, ocfs2ToolsContent: false, mode: st.mode & 0o7777, sha256: content ? sha256(content) : '' };
  }
  if (!st.isFile()) return { kind: 'other', ours: false, sameAsNew: false, package: owner, ocfs2ToolsContent: false, mode: st.mode & 0o7777, sha256: '' };
  const content = readFileSync(path);
  const text = content.toString('latin1');
  const elf = content.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  return {
    kind: 'file',
    ours: text.includes(HELPER_MARKER),
    sameAsNew: text === newHelper,
    package: owner,
    ocfs2ToolsContent: elf && /ocfs2-tools/i.test(text),
    mode: st.mode & 0o7777,
    sha256: sha256(content),
  };
}

export function gatherHelperFacts(newHelper: string, env: HelperEnv = {}): HelperFacts & { stateDir: string } {
  const root = env.root ?? '/';
  const sbin = env.sbin ?? '/sbin';
  const stateDir = inRoot(root, env.stateDir ?? HELPER_STATE_DIR);
  const path = inRoot(root, `${sbin}/${MOUNT_HELPER_NAME}`);
  let dir: string;
  try {
    dir = realpathSync(dirname(path));
  } catch {
    dir = dirname(path);
  }
  const realPath = join(dir, MOUNT_HELPER_NAME);
  const lookup = env.packageOf ?? (root === '/' ? (p: string) => dpkgOwner([p, ...(realPath !== p ? [realPath] : [])]) : () => null);
  const ex = existing(realPath, newHelper, lookup(`${sbin}/${MOUNT_HELPER_NAME}`));
  let manifest: HelperManifest | null = null;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(stateDir), 'utf8')) as HelperManifest;
  } catch {
    manifest = null;
  }
  let backupPresent = false;
  let backupSha256: string | undefined;
  if (manifest?.original?.kind === 'file') {
    try {
      backupSha256 = sha256(readFileSync(manifest.original.backup));
      backupPresent = true;
    } catch {
      backupPresent = false;
    }
  }
  return { path, realPath, existing: ex, manifest, backupPresent, ...(backupSha256 ? { backupSha256 } : {}), stateDir };
}

/** A symlink made atomically: created beside the target, renamed over it, the directory fsynced. */
function symlinkAtomic(target: string, path: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function executeHelperPlan(plan: HelperPlan, newHelper: string): Promise<void> {
  for (const a of plan.actions) {
    switch (a.op) {
      case 'backup':
        mkdirSync(dirname(a.to), { recursive: true, mode: 0o755 });
        await writeConfigFileAtomic(a.to, readFileSync(a.from), { mode: a.mode, replaceLink: true });
        break;
      case 'write-manifest':
        mkdirSync(dirname(a.path), { recursive: true, mode: 0o755 });
        await writeConfigFileAtomic(a.path, JSON.stringify(a.manifest, null, 2) + '\n', { mode: 0o644, replaceLink: true });
        break;
      case 'write-helper':
        // over a symlink too: rename replaces the link itself, never what it points to
        await writeConfigFileAtomic(a.path, newHelper, { mode: 0o755, replaceLink: true });
        break;
      case 'restore-file':
        await writeConfigFileAtomic(a.to, readFileSync(a.from), { mode: a.mode, replaceLink: true });
        break;
      case 'restore-symlink':
        symlinkAtomic(a.target, a.path);
        break;
      case 'unlink':
        unlinkSync(a.path);
        break;
      case 'remove-state':
        for (const p of a.paths) rmSync(p, { force: true });
        break;
    }
  }
}

export async function installMountHelper(newHelper: string, choice: InstallChoice, env: HelperEnv = {}): Promise<HelperPlan & { path: string; realPath: string }> {
  const f = gatherHelperFacts(newHelper, env);
  const plan = planInstall(f, choice, f.stateDir);
  await executeHelperPlan(plan, newHelper);
  return { ...plan, path: f.path, realPath: f.realPath };
}

export async function removeMountHelper(env: HelperEnv = {}): Promise<HelperPlan & { path: string; realPath: string }> {
  const f = gatherHelperFacts('', env);
  const plan = planRemove(f, f.stateDir);
  await executeHelperPlan(plan, '');
  return { ...plan, path: f.path, realPath: f.realPath };
}

// ---- Pacemaker OCF resource agents (lib/model/ocfAgents.ts) ---------------------------------------

export interface OcfEnv {
  root?: string;
  /** the provider directory (default /usr/lib/ocf/resource.d/o2stack) */
  dir?: string;
}

function ocfFacts(rendered: Record<OcfAgentName, string>, env: OcfEnv) {
  const dir = inRoot(env.root ?? '/', env.dir ?? OCF_PROVIDER_DIR);
  let entries: string[] | undefined;
  try {
    entries = readdirSync(dir);
  } catch {
    entries = undefined;
  }
  const agents: OcfAgentFacts[] = OCF_AGENT_NAMES.map((name) => {
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return { name, path, existing: null };
    }
    if (!st.isFile() && !st.isSymbolicLink()) return { name, path, existing: { kind: 'other' as const, ours: false, sameAsNew: false } };
    let text = '';
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      text = '';
    }
    return { name, path, existing: { kind: st.isFile() ? ('file' as const) : ('symlink' as const), ours: text.includes(HELPER_MARKER), sameAsNew: st.isFile() && text === rendered[name] } };
  });
  const others = (entries ?? []).filter((e) => !(OCF_AGENT_NAMES as readonly string[]).includes(e));
  return { dir, dirExists: entries !== undefined, agents, others };
}

/** Writes ocf:o2stack:o2stack-daemon and o2stack-o2cb (rendered by the caller) atomically. */
export async function installOcfAgents(rendered: Record<OcfAgentName, string>, env: OcfEnv & { planOnly?: boolean } = {}): Promise<OcfPlan & { dir: string }> {
  const f = ocfFacts(rendered, env);
  const plan = planOcfInstall(f.dir, f.dirExists, f.agents);
  if (env.planOnly) return { ...plan, dir: f.dir };
  for (const a of plan.actions) {
    if (a.op === 'mkdir') mkdirSync(a.path, { recursive: true, mode: 0o755 });
    else if (a.op === 'write-agent') await writeConfigFileAtomic(a.path, rendered[a.name], { mode: 0o755, replaceLink: true });
  }
  return { ...plan, dir: f.dir };
}

export function removeOcfAgents(env: OcfEnv = {}): OcfPlan & { dir: string } {
  const f = ocfFacts({ 'o2stack-daemon': '', 'o2stack-o2cb': '' }, env);
  const plan = planOcfRemove(f.dir, f.dirExists, f.agents, f.others);
  for (const a of plan.actions) {
    if (a.op === 'unlink') unlinkSync(a.path);
    else if (a.op === 'rmdir') rmdirSync(a.path);
  }
  return { ...plan, dir: f.dir };
}
