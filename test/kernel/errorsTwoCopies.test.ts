// Two copies of the library in one process (the ESM sources or build, and dist/index.cjs: npm's
// dual package hazard): the addon builds its errors with the classes the last copy handed it, so
// KernelError and CorosyncError recognise each other's instances (a registry-symbol brand).
import assert from 'node:assert/strict';
import { runWithBothCopies, source } from '../support/twoCopies.js';

describe('kernel errors: two copies of the library in one process', function () {
  this.timeout(60_000);
  it('instanceof KernelError / CorosyncError holds across the copies; BatchError keeps its own check', function () {
    const seen = runWithBothCopies(this, {
      imports: `import * as esm from ${source('lib/index.ts')};`,
      // the ESM copy hands the addon its classes first, then the CJS copy its own
      beforeCjs: `const b = new esm.NativeBackend({ root: '/', fakeTree: false });\nb.exists('/sys');`,
      body: `new cjs.NativeBackend({ root: '/', fakeTree: false }).exists('/sys');
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
}));`,
    });
    assert.deepEqual(seen, {
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
