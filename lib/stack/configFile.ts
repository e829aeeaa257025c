// Reading and writing configuration files: the only filesystem access of the configuration layer
// (lib/config/ is pure). Writes are atomic (temp sibling, fsync, rename, fsync of the directory)
// and serialized between o2stack processes by a PID lock file next to the target.
import { randomBytes } from 'node:crypto';
import { constants as FS, existsSync, promises as fsp } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseAny, type ParseAnyOptions, type ParseAnyResult } from '../config/detect.js';
import { type O2cbDefaultsFile, parseO2cbDefaults } from '../config/o2cbDefaults.js';
import { ConfigError } from '../model/errors.js';
import { InputFileError, readInputFile } from './inputFile.js';

export interface LoadedConfig extends ParseAnyResult {
  path: string;
  /** the file's text as read (parsed once; callers that need more of it do not read it again) */
  text: string;
}

/** Reads and parses (any format, validated) a configuration file. Throws ConfigError. */
export async function loadConfigFile(path: string, opts: Omit<ParseAnyOptions, 'file'> = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    // sync: a small file, and fs.promises costs a CLI run start-up time (it loads streams and
    // readline) on a slow machine
    text = readInputFile(path);
  } catch (e) {
    if (e instanceof InputFileError) throw new ConfigError([{ file: path, code: e.code === 'E_TOO_LARGE' ? 'E_CONF_TOO_LARGE' : 'E_CONF_NOT_FILE', message: e.message, hint: e.hint }]);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw missingConfigError(path);
    throw new ConfigError([
      {
        file: path,
        code: code === 'EACCES' || code === 'EPERM' ? 'E_CONF_PERMISSION' : 'E_CONF_READ',
        message: `cannot read ${path}: ${(e as Error).message}`,
        hint: code === 'EACCES' || code === 'EPERM' ? 'run as root, or make the file readable' : code === 'EISDIR' ? 'give the path of a file, not a directory' : undefined,
      },
    ]);
  }
  return { path, text, ...parseAny(text, { ...opts, file: path }) };
}

/** The error for a configuration file that does not exist, with how to create it. */
export function missingConfigError(path: string): ConfigError {
  return new ConfigError([
    {
      file: path,
      code: 'E_CONF_MISSING',
      message: `configuration file ${path} does not exist`,
      hint:
        `create it: write the cluster as JSON ({"name": …, "nodes": [{"name", "number", "ipAddress", "port"}]}) and run ` +
        `"o2stack config convert --to ocfs2 FILE.json > ${path}", or import a cman/corosync file the same way; ` +
        `check it with "o2stack config check ${path}" (or pass --config PATH to use another file)`,
    },
  ]);
}

export interface WriteOptions {
  /** How long to wait for another writer's lock, in ms (default 30000: a live writer holds it for milliseconds, but twenty CLI processes queued on a loaded machine took more than 5 s). */
  lockTimeoutMs?: number;
  /** File mode of the result (default: the existing file's mode, else 0644, what ocfs2-tools uses). */
  mode?: number;
  /**
   * Replace a symbolic link at `path` with the file (installed programs: the link is what is being
   * replaced). Default: write to the file the link points to, keeping the link (configuration).
   */
  replaceLink?: boolean;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes `${path}.lock` (O_EXCL, holding our PID). A lock whose PID is dead is taken over; a lock
 * that is unreadable or empty is taken over once it is older than a second (its writer died between
 * create and write). Returns the release function. Throws ConfigError after `timeoutMs`.
 */
export async function acquireLock(path: string, timeoutMs = 30_000): Promise<() => Promise<void>> {
  const lock = `${path}.lock`;
  const mine = `${process.pid}\n`;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      const fh = await fsp.open(lock, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o644);
      try {
        await fh.writeFile(mine);
      } finally {
        await fh.close();
      }
      return async () => {
        // Only remove the lock if it is still ours (it may have been taken over as stale).
        const now = await fsp.readFile(lock, 'utf8').catch(() => '');
        if (now === mine) await fsp.unlink(lock).catch(() => undefined);
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw new ConfigError([{ file: path, code: 'E_CONF_LOCK', message: `cannot create the lock file ${lock}: ${(e as Error).message}`, hint: `check that ${dirname(lock)} exists and is writable` }]);
      }
    }
    const content = await fsp.readFile(lock, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released meanwhile: retry at once
    const pid = /^\d+\n?$/.test(content) ? Number(content) : NaN;
    let stale = Number.isInteger(pid) && pid > 0 ? !pidAlive(pid) : false;
    if (!stale && !(pid > 0)) {
      const st = await fsp.stat(lock).catch(() => undefined);
      stale = st !== undefined && Date.now() - st.mtimeMs > 1000;
    }
    if (stale) {
      // Re-read just before removing, so a lock that changed hands meanwhile is left alone.
      const again = await fsp.readFile(lock, 'utf8').catch(() => undefined);
      if (again === content) await fsp.unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ConfigError([
        {
          file: path,
          code: 'E_CONF_LOCKED',
          message: `${path} is locked by process ${Number.isNaN(pid) ? '(unknown)' : pid} (${lock}); gave up after ${timeoutMs} ms`,
          hint: `wait for that process to finish; if no o2stack is running, remove ${lock}`,
        },
      ]);
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Replaces `path` with `text` atomically: under the lock, writes a temp sibling, fsyncs it, sets
 * the mode, renames it over the target and fsyncs the directory, so a crash leaves either the old
 * or the new file, never a torn one.
 */
export async function writeConfigFileAtomic(path: string, text: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const target = opts.replaceLink ? path : await resolveTarget(path);
  const release = await acquireLock(target, opts.lockTimeoutMs);
  try {
    await writeLocked(target, text, opts);
  } finally {
    await release();
  }
}

/**
 * Read-modify-write under the lock: `change` gets the current text (undefined when the file does
 * not exist) and returns the new text, or undefined to leave the file alone. Another o2stack
 * cannot change the file between the read and the write. Returns what `change` returned.
 */
export async function updateFileAtomic(path: string, change: (current: string | undefined) => string | undefined, opts: WriteOptions = {}): Promise<string | undefined> {
  const target = opts.replaceLink ? path : await resolveTarget(path);
  const release = await acquireLock(target, opts.lockTimeoutMs);
  try {
    let current: string | undefined;
    try {
      current = readInputFile(target);
    } catch (e) {
      if (e instanceof InputFileError) throw new ConfigError([{ file: path, code: e.code === 'E_TOO_LARGE' ? 'E_CONF_TOO_LARGE' : 'E_CONF_NOT_FILE', message: e.message, hint: e.hint }]);
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ConfigError([{ file: path, code: code === 'EACCES' || code === 'EPERM' ? 'E_CONF_PERMISSION' : 'E_CONF_READ', message: `cannot read ${path}: ${(e as Error).message}`, hint: 'run as root, or make the file readable' }]);
    }
    const next = change(current);
    if (next !== undefined && next !== current) await writeLocked(target, next, opts);
    return next;
  } finally {
    await release();
  }
}

/**
 * The file a write must replace: symbolic links followed (renaming over a link would replace the
 * link with a file, and the real file would keep the old text), the directory's own links
 * resolved too, so the lock of every path to one file is the same lock file. A missing file is
 * written where the last link points.
 */
export async function resolveTarget(path: string): Promise<string> {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    const dir = await fsp.realpath(dirname(p)).catch(() => dirname(p));
    p = join(dir, basename(p));
    const st = await fsp.lstat(p).catch(() => undefined);
    if (!st?.isSymbolicLink()) return p;
    p = resolve(dir, await fsp.readlink(p));
  }
  throw new ConfigError([{ file: path, code: 'E_CONF_WRITE', message: `cannot write ${path}: too many levels of symbolic links (ELOOP)`, hint: `fix the chain of links: ls -l ${path}` }]);
}

/** Temp files of this target whose writer died (killed between create and rename): `.NAME.PID.HEX.tmp`. */
async function removeStaleTemps(dir: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  const entries = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(e.slice(prefix.length));
    // we hold the lock, so no live o2stack is writing one; a live PID may be a reused one: left alone
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) await fsp.unlink(join(dir, e)).catch(() => undefined);
  }
}

async function writeLocked(path: string, text: string | Uint8Array, opts: WriteOptions): Promise<void> {
  const dir = dirname(path);
  // an existing file keeps its mode (a 0600 file holding addresses stays 0600) and its owner
  const old = await fsp.lstat(path).catch(() => undefined);
  const mode = opts.mode ?? (old?.isFile() ? old.mode & 0o7777 : 0o644);
  await removeStaleTemps(dir, basename(path));
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, mode & 0o777);
    try {
      await fh.writeFile(text, typeof text === 'string' ? 'utf8' : null);
      if (old?.isFile() && (old.uid !== process.getuid?.() || old.gid !== process.getgid?.())) await fh.chown(old.uid, old.gid).catch(() => undefined);
      await fh.chmod(mode); // the umask may have narrowed the create mode; chown clears set-id bits
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
    const d = await fsp.open(dir, 'r');
    try {
      await d.sync();
    } catch (e) {
      // Some filesystems cannot fsync a directory; the rename itself has happened.
      if (!['EINVAL', 'ENOTSUP', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    } finally {
      await d.close();
    }
  } catch (e) {
    await fsp.unlink(tmp).catch(() => undefined);
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([{ file: path, code: 'E_CONF_WRITE', message: `cannot write ${path}: ${(e as Error).message}`, hint: `check that ${dir} exists and is writable (run as root for /etc)` }]);
  }
}

/** Where o2cb's init script looks, in its order: /etc/sysconfig/o2cb (RPM distros), then /etc/default/o2cb (Debian). */
export const O2CB_DEFAULTS_PATHS = ['/etc/sysconfig/o2cb', '/etc/default/o2cb'] as const;
export const SYSTEM_CLUSTER_CONF = '/etc/ocfs2/cluster.conf';

/**
 * The o2cb defaults file to use: `option` when given ('none': no file), else — for the system's
 * /etc/ocfs2/cluster.conf only — the first of O2CB_DEFAULTS_PATHS that exists. A configuration
 * given with --config elsewhere is self-contained unless --defaults names a file.
 */
export function defaultsPathFor(option: string | undefined, configFile: string): { path: string; explicit: boolean } | undefined {
  if (option === 'none') return undefined;
  if (option !== undefined) return { path: option, explicit: true };
  if (configFile !== SYSTEM_CLUSTER_CONF) return undefined;
  const found = O2CB_DEFAULTS_PATHS.find((p) => existsSync(p));
  return found ? { path: found, explicit: false } : undefined;
}

/** Reads and parses an o2cb defaults file; a missing file is an error only when it was named explicitly (else undefined). */
export function loadO2cbDefaultsFile(path: string, explicit = true): O2cbDefaultsFile | undefined {
  let text: string;
  try {
    text = readInputFile(path);
  } catch (e) {
    if (e instanceof InputFileError) throw new ConfigError([{ file: path, code: e.code === 'E_TOO_LARGE' ? 'E_CONF_TOO_LARGE' : 'E_CONF_NOT_FILE', message: e.message, hint: e.hint }]);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    throw new ConfigError([
      {
        file: path,
        code: code === 'ENOENT' ? 'E_O2CB_DEFAULTS_MISSING' : code === 'EACCES' || code === 'EPERM' ? 'E_CONF_PERMISSION' : 'E_CONF_READ',
        message: code === 'ENOENT' ? `the o2cb defaults file ${path} does not exist` : `cannot read ${path}: ${(e as Error).message}`,
        hint: code === 'ENOENT' ? `create it: o2stack configure --defaults ${path} --enabled true --boot-cluster NAME (or pass --defaults none)` : 'run as root, or make the file readable',
      },
    ]);
  }
  return parseO2cbDefaults(text, { file: path });
}

/** The text of a configuration file (for the lines of its attributes), or undefined if it cannot be read. */
export function readTextIfAny(path: string): string | undefined {
  try {
    return readInputFile(path);
  } catch {
    return undefined;
  }
}

/** The text of a file, undefined when it does not exist; any other problem (not a regular file, too large, no permission) is a ConfigError. */
export function readTextOrMissing(path: string): string | undefined {
  try {
    return readInputFile(path);
  } catch (e) {
    if (e instanceof InputFileError) throw new ConfigError([{ file: path, code: e.code === 'E_TOO_LARGE' ? 'E_CONF_TOO_LARGE' : 'E_CONF_NOT_FILE', message: e.message, hint: e.hint }]);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError([{ file: path, code: code === 'EACCES' || code === 'EPERM' ? 'E_CONF_PERMISSION' : 'E_CONF_READ', message: `cannot read ${path}: ${(e as Error).message}`, hint: code === 'EACCES' || code === 'EPERM' ? 'run as root, or make the file readable' : code === 'EISDIR' ? 'give the path of a file, not a directory' : undefined }]);
  }
}
