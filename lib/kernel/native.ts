// The one typed door into the C++ addon. Loaded lazily: commands that never touch the kernel
// (config check, convert) do not pay for dlopen.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeAttrOp {
  op: 'mkdir' | 'rmdir' | 'write' | 'read' | 'writefd';
  path: string;
  data?: string | Buffer;
  mode?: number;
  device?: string;
  /** read: a missing attribute reads as undefined instead of failing the batch */
  missingOk?: boolean;
}

export interface NativeBatchResult {
  completed: number;
  reads: (Buffer | undefined)[];
}

export interface NativeDirEntry {
  name: string;
  type: 'dir' | 'file' | 'link' | 'other';
}

export interface NativeAttrOptions {
  createMissing?: boolean;
}

export interface NativeAttr {
  readAttr(path: string): Buffer;
  writeAttr(path: string, data: string | Buffer, options?: NativeAttrOptions): number;
  mkdir(path: string, mode?: number, options?: NativeAttrOptions): void;
  rmdir(path: string): void;
  list(path: string): NativeDirEntry[];
  batch(ops: NativeAttrOp[], options?: NativeAttrOptions): NativeBatchResult;
  batchAsync(ops: NativeAttrOp[], options?: NativeAttrOptions): Promise<NativeBatchResult>;
}

/** The addon's exports. Surfaces other than attr are optional: they register themselves. */
export interface NativeAddon {
  surfaces: string[];
  attr: NativeAttr;
  [surface: string]: unknown;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let cached: NativeAddon | undefined;

/**
 * Loads the addon with `bindings` (build/Release, build/Debug, ...), or the file named by
 * O2STACK_ADDON (CI uses it to test the cmake-js build). A failure says what was tried and how to fix it.
 */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const explicit = process.env.O2STACK_ADDON;
  try {
    cached = explicit
      ? (require(explicit) as NativeAddon)
      : (require('bindings')({ bindings: 'ocfs2_stack', module_root: packageRoot }) as NativeAddon);
  } catch (e) {
    const err = new Error(
      `the ocfs2-stack native addon could not be loaded (${explicit ? `O2STACK_ADDON=${explicit}` : `build/Release/ocfs2_stack.node under ${packageRoot}`}): ` +
        `${(e as Error).message.split('\n')[0]}. Build it with \`npm run build:native\` (needs python3, make, g++).`,
    );
    (err as Error & { code: string }).code = 'E_NO_ADDON';
    throw err;
  }
  return cached;
}
