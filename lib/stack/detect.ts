// Which cluster stack is running, read without changing anything: no module is loaded, nothing is
// mounted, no label is written (a read-only command must never switch stacks as a side effect).
import { release } from 'node:os';
import type { KernelBackend } from '../kernel/backend.js';
import { readO2nmState } from '../kernel/o2nm.js';
import { type MountEntry, type Ocfs2Mount, ocfs2Mounts, parseMountTable } from '../model/mounts.js';
import type { O2nmState } from '../model/o2nmState.js';
import { CONFIGFS, DLM_ROOT, DLMFS_TYPE, HB_CTL_PATH_SYSCTL, SYS_FS_O2CB, SYS_FS_OCFS2 } from '../model/paths.js';

export const STACK_MODULES = ['configfs', 'ocfs2_nodemanager', 'ocfs2', 'ocfs2_stackglue', 'ocfs2_stack_o2cb', 'ocfs2_stack_user', 'ocfs2_dlm', 'ocfs2_dlmfs', 'dlm'] as const;
export type StackModule = (typeof STACK_MODULES)[number];

export interface StackDetection {
  kernelRelease: string;
  /** loaded or built in (present under /sys/module) */
  modules: Record<StackModule, boolean>;
  configfsMounted: boolean;
  stackglue: {
    loaded: boolean;
    /** /sys/fs/ocfs2/cluster_stack: the label the next mount must use */
    clusterStack: string | null;
    loadedPlugins: string[];
    /** the plugin a mount has pinned; null when nothing is mounted */
    activePlugin: string | null;
    maxLockingProtocol: string | null;
    recoverCallbackSupport: boolean;
  };
  o2cb: {
    interfaceRevision: number | null;
    state: O2nmState;
  };
  dlm: {
    configured: boolean;
    clusterName: string | null;
    recoverCallbacks: boolean | null;
  };
  hbCtlPath: string | null;
  /** ocfs2_dlmfs mounts (o2stack start mounts it at /dlm); domains: the dlm domains open there (tools holding cluster locks) */
  dlmfs: { mounted: boolean; dirs: string[]; domains: string[] };
  mounts: Ocfs2Mount[];
  /** the stack in use: the active plugin's stack, else the configured label's, else null */
  stack: 'o2cb' | 'user' | null;
}

/**
 * Debian's 6.1 kernel writes every plugin name at the start of the buffer (the later one wins) and
 * pads the rest with NULs: two plugins read as "o2cb\n\0\0\0\0\0". So the names read are merged with
 * what the loaded stack modules say.
 */
export function loadedPlugins(text: string | undefined, modules: Record<StackModule, boolean>): string[] {
  const names = new Set((text ?? '').replace(/\0/g, '').split('\n').map((s) => s.trim()).filter(Boolean));
  if (modules.ocfs2_stack_o2cb) names.add('o2cb');
  if (modules.ocfs2_stack_user) names.add('user');
  return [...names].sort();
}

function dlmfsOf(b: KernelBackend, table: MountEntry[]): StackDetection['dlmfs'] {
  const dirs = table.filter((m) => m.fstype === DLMFS_TYPE).map((m) => m.dir);
  const domains = dirs.length ? (b.tryList(dirs[0]!) ?? []).filter((e) => e.type === 'dir').map((e) => e.name) : [];
  return { mounted: dirs.length > 0, dirs, domains };
}

const trimOrNull = (s: string | undefined) => (s === undefined ? null : s.trim() || null);

export function detectStack(b: KernelBackend): StackDetection {
  const modules = Object.fromEntries(STACK_MODULES.map((m) => [m, b.tryList(`/sys/module/${m}`) !== undefined])) as Record<StackModule, boolean>;
  const mountText = b.tryRead('/proc/self/mounts') ?? b.tryRead('/proc/mounts');
  const mountTable = parseMountTable(mountText ?? '');
  // The mount table decides; a root without one (a bare chroot or fake tree) counts configfs as
  // mounted when its o2nm directory is there.
  const configfsMounted = mountText !== undefined ? mountTable.some((m) => m.fstype === 'configfs' && m.dir === CONFIGFS) : b.tryList(`${CONFIGFS}/cluster`) !== undefined;
  const clusterStack = trimOrNull(b.tryRead(`${SYS_FS_OCFS2}/cluster_stack`));
  const activePlugin = trimOrNull(b.tryRead(`${SYS_FS_OCFS2}/active_cluster_plugin`));
  const rev = trimOrNull(b.tryRead(`${SYS_FS_O2CB}/interface_revision`));
  const rcb = trimOrNull(b.tryRead(`${DLM_ROOT}/cluster/recover_callbacks`));
  const stack = activePlugin ? (activePlugin === 'o2cb' ? 'o2cb' : 'user') : clusterStack ? (clusterStack === 'o2cb' ? 'o2cb' : 'user') : null;
  return {
    kernelRelease: release(),
    modules,
    configfsMounted,
    stackglue: {
      loaded: clusterStack !== null,
      clusterStack,
      loadedPlugins: loadedPlugins(b.tryRead(`${SYS_FS_OCFS2}/loaded_cluster_plugins`), modules),
      activePlugin,
      maxLockingProtocol: trimOrNull(b.tryRead(`${SYS_FS_OCFS2}/max_locking_protocol`)),
      recoverCallbackSupport: trimOrNull(b.tryRead(`${SYS_FS_OCFS2}/dlm_recover_callback_support`)) === '1',
    },
    o2cb: { interfaceRevision: rev === null ? null : Number(rev), state: readO2nmState(b) },
    dlm: {
      configured: b.tryList(`${DLM_ROOT}/cluster`) !== undefined,
      clusterName: trimOrNull(b.tryRead(`${DLM_ROOT}/cluster/cluster_name`)),
      recoverCallbacks: rcb === null ? null : rcb === '1',
    },
    hbCtlPath: trimOrNull(b.tryRead(HB_CTL_PATH_SYSCTL)),
    dlmfs: dlmfsOf(b, mountTable),
    mounts: ocfs2Mounts(mountTable),
    stack,
  };
}
