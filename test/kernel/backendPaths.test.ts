// NativeBackend.hostPath: a kernel path under --root. The fast path (a plain concatenation for a
// normalized absolute path) must give exactly what path.join gives, for any root and path.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { NativeBackend } from '../../lib/kernel/backend.js';

const segment = fc.oneof(fc.constantFrom('', '.', '..', '...', '.x', 'sys', 'kernel', 'a b'), fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', '.', '/', '-') }));
const pathOf = (abs: boolean) => fc.array(segment, { maxLength: 6 }).map((s) => (abs ? '/' : '') + s.join('/'));

describe('kernel: NativeBackend.hostPath', function () {
  it('equals path.join(root, path) for any root and path (fast path or not)', function () {
    fc.assert(
      fc.property(fc.oneof(pathOf(true), pathOf(false)).filter((r) => r !== '/'), fc.oneof(pathOf(true), pathOf(false)), (root, p) => {
        const b = new NativeBackend({ root: root === '' ? '.' : root, fakeTree: true });
        assert.equal(b.hostPath(p), join(root === '' ? '.' : root, p));
      }),
      { numRuns: 5000 },
    );
  });

  it('under the root "/" a kernel path is itself; a NUL byte is refused (EINVAL)', function () {
    const b = new NativeBackend({ root: '/', fakeTree: true });
    assert.equal(b.hostPath('/sys/kernel/config'), '/sys/kernel/config');
    assert.throws(() => new NativeBackend({ root: '/tmp/x', fakeTree: true }).hostPath('/sys/a\0b'), { code: 'EINVAL' });
  });
});
