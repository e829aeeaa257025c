// Two copies of the library in one process (the ESM sources or build, and dist/index.cjs: npm's
// dual package hazard): the addon builds its errors with the classes the last copy handed it, so
// KernelError and CorosyncError recognise each other's instances (a registry-symbol brand). In a
// child process, so that this one keeps a single copy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const repo = new URL('../..', import.meta.url).pathname;
const cjsPath = `${repo}dist/index.cjs`;

describe('kernel errors: two copies of the library in one process', function () {
  this.timeout(60_000);
  it('instanceof KernelError / CorosyncError holds across the copies; BatchError keeps its own check', function () {
    if (!existsSync(cjsPath)) {
      console.log('    skipping: dist/index.cjs is not built (npm run build)');
      return this.skip();
    }
    const script = `import { createRequire as requireFrom } from 'node:module';
import * as esm from ${JSON.stringify(`${repo}lib/index.ts`)};
const b = new esm.NativeBackend({ root: '/', fakeTree: false });
b.exists('/sys'); // the ESM copy hands the addon its classes first
const cjs = requireFrom(import.meta.url)(${JSON.stringify(cjsPath)});
new cjs.NativeBackend({ root: '/', fakeTree: false }).exists('/sys'); // now the CJS copy's
let native;
try { b.read('/nonexistent-o2stack-test/attr'); } catch (e) { native = e; }
const made = new esm.KernelError({ code: 'EBUSY', errno: -16, syscall: 'write' });
const cs = new cjs.CorosyncError({ code: 'CS_ERR_LIBRARY', csError: 2, call: 'cpg_initialize' });
console.log(JSON.stringify({
  nativeCode: native && native.code,
  nativeIsEsm: native instanceof esm.KernelError, nativeIsCjs: native instanceof cjs.KernelError,
  madeIsCjs: made instanceof cjs.KernelError, madeIsError: made instanceof Error,
  madeIsBatch: made instanceof esm.BatchError, plainIsKernel: new Error('x') instanceof esm.KernelError,
  shapeIsKernel: Object.assign(new Error('x'), { code: 'EIO' }) instanceof esm.KernelError,
  csIsEsm: cs instanceof esm.CorosyncError, csIsKernel: cs instanceof esm.KernelError,
}));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 50_000, cwd: repo });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), {
      nativeCode: 'ENOENT',
      nativeIsEsm: true,
      nativeIsCjs: true,
      madeIsCjs: true,
      madeIsError: true,
      madeIsBatch: false,
      plainIsKernel: false,
      shapeIsKernel: false,
      csIsEsm: true,
      csIsKernel: false,
    });
  });
});
