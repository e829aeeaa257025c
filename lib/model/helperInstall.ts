// `o2stack helpers install|remove`: putting our mount.ocfs2 where mount(8) looks for it, and
// putting back what was there. Pure: the facts (what the path holds, who owns it, the backup's
// manifest) come from lib/stack/helpers.ts, which carries out the plan.
//
// mount(8) looks for helpers in /sbin (then /sbin/fs.d, /sbin/fs); on a merged-/usr system /sbin is
// a link to usr/sbin, so the file lives in /usr/sbin. A file that is not ours is replaced only on
// an explicit choice: --replace-ocfs2-tools when it is ocfs2-tools' mount.ocfs2 (dpkg owns it, or
// its content says so), --replace-existing for anything else. What was there is kept as a backup
// with a manifest (both written atomically) and restored by `helpers remove`.

/** The first line after the shebang of every helper script we write: how we recognise ours. */
export const HELPER_MARKER = '# o2stack-helper:';

export const MOUNT_HELPER_NAME = 'mount.ocfs2';
export const HELPER_STATE_DIR = '/var/lib/o2stack/helpers';

export interface ExistingFile {
  kind: 'file' | 'symlink' | 'other';
  /** a symlink's target */
  linkTarget?: string;
  /** the file (or what a symlink points to) carries HELPER_MARKER */
  ours: boolean;
  /** byte-equal to the helper we would write */
  sameAsNew: boolean;
  /** the package that owns the path (dpkg -S), if any */
  package: string | null;
  /** an ELF file naming OCFS2-Tools in its strings */
  ocfs2ToolsContent: boolean;
  mode: number;
  /** sha256 of the content (a file) */
  sha256: string;
}

/** What the state directory says about an earlier install. */
export interface HelperManifest {
  version: 1;
  /** where the helper was installed (the resolved path) */
  path: string;
  /** what was there before: null for nothing */
  original: null | { kind: 'file'; backup: string; mode: number; package: string | null; sha256: string } | { kind: 'symlink'; target: string; package: string | null };
  installedAt: string;
}

export interface HelperFacts {
  /** the path mount(8) uses (/sbin/mount.ocfs2) */
  path: string;
  /** the same, with the directory's links resolved (/usr/sbin/mount.ocfs2 on merged /usr) */
  realPath: string;
  existing: ExistingFile | null;
  manifest: HelperManifest | null;
  /** the manifest's backup file is there (when it names one) */
  backupPresent: boolean;
  /** sha256 of the backup file, when present */
  backupSha256?: string;
}

export type HelperAction =
  | { op: 'backup'; from: string; to: string; mode: number }
  | { op: 'write-helper'; path: string }
  | { op: 'write-manifest'; path: string; manifest: HelperManifest }
  | { op: 'restore-file'; from: string; to: string; mode: number }
  | { op: 'restore-symlink'; target: string; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'remove-state'; paths: string[] };

export interface HelperPlan {
  actions: HelperAction[];
  /** one line per action, and why */
  explain: string[];
  noop: boolean;
}

export class HelperRefusal extends Error {
  readonly exitCode = 1;
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'HelperRefusal';
  }
}

export interface InstallChoice {
  replaceOcfs2Tools?: boolean;
  replaceExisting?: boolean;
}

export const manifestPath = (stateDir: string) => `${stateDir}/${MOUNT_HELPER_NAME}.json`;
export const backupPath = (stateDir: string) => `${stateDir}/${MOUNT_HELPER_NAME}.orig`;

function isOcfs2Tools(e: ExistingFile): boolean {
  return e.package === 'ocfs2-tools' || e.ocfs2ToolsContent;
}

function describe(e: ExistingFile, path: string): string {
  const owner = e.package ? ` (package ${e.package})` : '';
  if (e.kind === 'symlink') return `${path} is a symbolic link to ${e.linkTarget}${owner}`;
  if (isOcfs2Tools(e)) return `${path} is ocfs2-tools' mount.ocfs2${owner || ' (by its content)'}`;
  return `${path} holds another program${owner}`;
}

export function planInstall(f: HelperFacts, choice: InstallChoice, stateDir = HELPER_STATE_DIR, now = new Date()): HelperPlan {
  const e = f.existing;
  const write: HelperAction = { op: 'write-helper', path: f.realPath };
  if (e?.ours) {
    if (e.sameAsNew) return { actions: [], explain: [`${f.path} is already o2stack's mount.ocfs2: nothing to do`], noop: true };
    return { actions: [write], explain: [`${f.path} is o2stack's mount.ocfs2 of another install: rewritten (the backup of what was there before is kept)`], noop: false };
  }
  if (e === null) {
    const manifest: HelperManifest = { version: 1, path: f.realPath, original: null, installedAt: now.toISOString() };
    return {
      actions: [{ op: 'write-manifest', path: manifestPath(stateDir), manifest }, write],
      explain: [`nothing was at ${f.path}: helpers remove will delete it again`, `write ${f.realPath} (runs o2stack's mount.ocfs2)`],
      noop: false,
    };
  }
  if (e.kind === 'other') {
    throw new HelperRefusal('E_HELPER_NOT_FILE', `${f.path} is neither a file nor a symbolic link: left alone`, `look at it (ls -l ${f.path}) and move it away by hand`);
  }
  const tools = isOcfs2Tools(e);
  if (tools && !choice.replaceOcfs2Tools) {
    throw new HelperRefusal(
      'E_HELPER_OCFS2_TOOLS',
      `${describe(e, f.path)}: not replaced. mount -t ocfs2 runs it today; it starts o2cb heartbeat through ocfs2-tools' libo2cb and knows nothing of o2stack's user-stack daemon`,
      `o2stack helpers install --replace-ocfs2-tools (it is kept in ${backupPath(stateDir)} and put back by o2stack helpers remove)`,
    );
  }
  if (!tools && !choice.replaceExisting) {
    throw new HelperRefusal('E_HELPER_EXISTS', `${describe(e, f.path)}: not replaced`, `o2stack helpers install --replace-existing (it is kept in ${backupPath(stateDir)} and put back by o2stack helpers remove)`);
  }
  const explain: string[] = [];
  const actions: HelperAction[] = [];
  let original: HelperManifest['original'];
  if (e.kind === 'symlink') {
    original = { kind: 'symlink', target: e.linkTarget ?? '', package: e.package };
    explain.push(`${describe(e, f.path)}: recorded in ${manifestPath(stateDir)}`);
  } else {
    actions.push({ op: 'backup', from: f.realPath, to: backupPath(stateDir), mode: e.mode });
    original = { kind: 'file', backup: backupPath(stateDir), mode: e.mode, package: e.package, sha256: e.sha256 };
    explain.push(`${describe(e, f.path)}: kept in ${backupPath(stateDir)}${f.manifest ? ' (replacing an older backup: this is what is there now)' : ''}`);
  }
  actions.push({ op: 'write-manifest', path: manifestPath(stateDir), manifest: { version: 1, path: f.realPath, original, installedAt: now.toISOString() } }, write);
  explain.push(`write ${f.realPath} (runs o2stack's mount.ocfs2)`);
  if (e.package) explain.push(`note: a new ${e.package} package puts its own ${f.path} back; run o2stack helpers install --replace-${tools ? 'ocfs2-tools' : 'existing'} again after upgrading it`);
  return { actions, explain, noop: false };
}

export function planRemove(f: HelperFacts, stateDir = HELPER_STATE_DIR): HelperPlan {
  const e = f.existing;
  const m = f.manifest;
  const state = [manifestPath(stateDir), ...(m?.original?.kind === 'file' ? [m.original.backup] : [])];
  if (!m) {
    if (e?.ours) return { actions: [{ op: 'unlink', path: f.realPath }], explain: [`${f.path} is o2stack's mount.ocfs2 and no backup was recorded: removed`], noop: false };
    return { actions: [], explain: [e ? `${describe(e, f.path)}, not o2stack's: nothing to do` : `nothing is installed at ${f.path}: nothing to do`], noop: true };
  }
  if (e && !e.ours) {
    // something else replaced ours since (a package upgrade): that stays, the stale backup goes
    return { actions: [{ op: 'remove-state', paths: state }], explain: [`${describe(e, f.path)}, no longer o2stack's: left as it is; the old backup is removed`], noop: false };
  }
  const o = m.original;
  if (o === null) return { actions: [...(e ? [{ op: 'unlink', path: f.realPath } as const] : []), { op: 'remove-state', paths: state }], explain: [`nothing was at ${f.path} before o2stack: its mount.ocfs2 is removed`], noop: false };
  if (o.kind === 'symlink') {
    return { actions: [{ op: 'restore-symlink', target: o.target, path: f.realPath }, { op: 'remove-state', paths: state }], explain: [`${f.path} is a symbolic link to ${o.target} again`], noop: false };
  }
  if (!f.backupPresent) {
    throw new HelperRefusal('E_HELPER_NO_BACKUP', `the backup of the original ${f.path} (${o.backup}) is missing: o2stack's mount.ocfs2 is left in place`, o.package ? `reinstall the package: apt-get install --reinstall ${o.package} (it writes its own ${f.path}), then rm ${manifestPath(stateDir)}` : `put the original back by hand, then rm ${manifestPath(stateDir)}`);
  }
  if (f.backupSha256 !== o.sha256) {
    throw new HelperRefusal('E_HELPER_BACKUP_CHANGED', `the backup ${o.backup} is not what was saved (sha256 ${f.backupSha256}, recorded ${o.sha256}): o2stack's mount.ocfs2 is left in place`, o.package ? `reinstall the package: apt-get install --reinstall ${o.package}, then rm ${state.join(' ')}` : `put the original back by hand, then rm ${state.join(' ')}`);
  }
  return {
    actions: [{ op: 'restore-file', from: o.backup, to: f.realPath, mode: o.mode }, { op: 'remove-state', paths: state }],
    explain: [`${f.path} restored from ${o.backup}${o.package ? ` (${o.package}'s mount.ocfs2)` : ''}`],
    noop: false,
  };
}
