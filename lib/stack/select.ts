// Selecting a cluster stack: load its modules, mount configfs, write the stack label.
// Refuses, with the reason, when volumes are mounted on another stack (the kernel would say EBUSY).
import type { KernelBackend } from '../kernel/backend.js';
import { KernelError } from '../kernel/errors.js';
import type { SystemOps } from '../kernel/system.js';
import { CONFIGFS, SYS_FS_OCFS2 } from '../model/paths.js';
import { detectStack } from './detect.js';

export class StackError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'StackError';
  }
}

export interface SelectResult {
  label: string;
  plugin: 'o2cb' | 'user';
  /** what was done, in order (empty when everything was already in place) */
  actions: string[];
}

export function pluginOf(label: string): 'o2cb' | 'user' {
  return label === 'o2cb' ? 'o2cb' : 'user';
}

export function checkStackLabel(label: string): void {
  if (!/^[\x21-\x7e]{4}$/.test(label)) {
    throw new StackError('E_STACK_LABEL', `stack label '${label}' is invalid: it must be exactly 4 printable characters (o2cb, pcmk, ...)`, 'use o2cb for the classic stack, pcmk for the user stack');
  }
}

export function modulesFor(label: string): string[] {
  return pluginOf(label) === 'o2cb' ? ['configfs', 'ocfs2', 'ocfs2_stack_o2cb'] : ['configfs', 'ocfs2', 'ocfs2_stack_user', 'dlm'];
}

export async function selectStack(b: KernelBackend, sys: SystemOps, label: string): Promise<SelectResult> {
  checkStackLabel(label);
  const plugin = pluginOf(label);
  const before = detectStack(b);
  const active = before.stackglue.activePlugin;
  if (active && (active !== plugin || (before.stackglue.clusterStack && before.stackglue.clusterStack !== label))) {
    const mounts = before.mounts.map((m) => m.dir).join(', ') || 'see /proc/mounts';
    throw new StackError(
      'E_STACK_BUSY',
      `cannot select stack '${label}': stack '${before.stackglue.clusterStack}' (${active} plugin) is in use by mounted OCFS2 volumes (${mounts}); the kernel refuses another label while anything is mounted (EBUSY)`,
      `unmount them first (o2stack umount DIR), then o2stack select ${label}`,
    );
  }
  const actions: string[] = [];
  for (const m of modulesFor(label)) {
    if (before.modules[m as keyof typeof before.modules]) continue;
    await sys.modprobe(m);
    actions.push(`modprobe ${m}`);
  }
  if (!detectStack(b).configfsMounted) {
    await sys.mount('configfs', CONFIGFS, 'configfs');
    actions.push(`mount -t configfs configfs ${CONFIGFS}`);
  }
  const current = b.tryRead(`${SYS_FS_OCFS2}/cluster_stack`)?.trim();
  if (current === undefined) {
    throw new StackError('E_NO_STACKGLUE', `${SYS_FS_OCFS2}/cluster_stack is missing after loading ${modulesFor(label).join(', ')}`, 'check dmesg; the kernel needs CONFIG_OCFS2_FS and its stack modules');
  }
  if (current !== label) {
    try {
      b.write(`${SYS_FS_OCFS2}/cluster_stack`, `${label}\n`);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'EBUSY') {
        e.hint = `a different stack ('${current}') is in use by a mounted volume: unmount it first`;
      }
      throw e;
    }
    actions.push(`write ${label} to ${SYS_FS_OCFS2}/cluster_stack (was ${current})`);
  }
  return { label, plugin, actions };
}
