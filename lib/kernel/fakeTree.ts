// A plain directory laid out like the kernel's cluster-stack files, for wiring tests, benches and
// demos without a kernel (NativeBackend's fake-tree mode creates what configfs would create).
// It shows that the plumbing works, never that the kernel accepts something: the VM suites do that.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeFakeKernelTree(root: string, options: { stack?: string } = {}): string {
  mkdirSync(join(root, 'sys/kernel/config/cluster'), { recursive: true });
  mkdirSync(join(root, 'sys/fs/ocfs2'), { recursive: true });
  mkdirSync(join(root, 'sys/fs/o2cb'), { recursive: true });
  mkdirSync(join(root, 'proc/sys/fs/ocfs2/nm'), { recursive: true });
  const files: Record<string, string> = {
    'sys/fs/ocfs2/cluster_stack': `${options.stack ?? 'o2cb'}\n`,
    'sys/fs/ocfs2/loaded_cluster_plugins': 'o2cb\n',
    'sys/fs/ocfs2/active_cluster_plugin': '',
    'sys/fs/ocfs2/max_locking_protocol': '1.0\n',
    'sys/fs/ocfs2/dlm_recover_callback_support': '1\n',
    'sys/fs/o2cb/interface_revision': '5\n',
    'proc/sys/fs/ocfs2/nm/hb_ctl_path': '/sbin/ocfs2_hb_ctl\n',
  };
  for (const [p, v] of Object.entries(files)) writeFileSync(join(root, p), v);
  return root;
}
