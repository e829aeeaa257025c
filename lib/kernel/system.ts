// Actions on the running system that are not attribute writes: loading modules and mounting.
// Behind an interface so that the stack code can be tested with a recording fake.
import { execFile } from 'node:child_process';
import { KernelError } from './errors.js';
import { loadNative } from './native.js';

export interface SystemOps {
  modprobe(module: string): Promise<void>;
  mount(source: string, target: string, fstype: string, options?: string, flags?: number): Promise<void>;
  umount(target: string): Promise<void>;
}

export class ModprobeError extends Error {
  readonly code = 'E_MODPROBE';
  constructor(readonly module: string, readonly output: string, readonly hint: string) {
    super(`modprobe ${module} failed: ${output.trim() || 'no output'}`);
    this.name = 'ModprobeError';
  }
}

export const nativeSystem: SystemOps = {
  modprobe(module: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('modprobe', [module], { timeout: 60_000 }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const missing = /not found|FATAL: Module/i.test(stderr);
        reject(
          new ModprobeError(
            module,
            stderr || String(err.message),
            missing
              ? `this kernel has no ${module} module: OCFS2 needs a kernel built with CONFIG_OCFS2_FS (Debian: linux-image-amd64, not the -cloud flavour)`
              : 'run as root; check dmesg for the reason',
          ),
        );
      });
    });
  },
  // mount(2) and umount2(2) on threads of their own (native/mount.cc); failures are KernelErrors.
  async mount(source, target, fstype, options = '', flags = 0) {
    await loadNative().mount.mount(source, target, fstype, flags, options);
  },
  async umount(target) {
    await loadNative().mount.umount(target, 0);
  },
};

export { KernelError };
