// Files the user names are read bounded: a FIFO, /dev/zero or a huge file is refused at once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockDevice } from '../../lib/kernel/blockdev.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { loadConfigFile } from '../../lib/stack/configFile.js';
import { readInputFile } from '../../lib/stack/inputFile.js';
import { runCli } from '../support/runCli.js';

describe('input files: regular, bounded', function () {
  this.timeout(20000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-input-'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a FIFO, a character device, a file over the bound: refused before reading; a small file read whole', async function () {
    assert.throws(() => readInputFile(join(dir, 'fifo')), { code: 'E_NOT_A_FILE', message: /is a FIFO, not a regular file/ });
    assert.throws(() => readInputFile('/dev/zero'), { code: 'E_NOT_A_FILE', message: /is a character device/ });
    const big = join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 5 * 1024 * 1024);
    assert.throws(() => readInputFile(big), { code: 'E_TOO_LARGE' });
    writeFileSync(join(dir, 'small'), 'n1=1@192.0.2.1\n');
    assert.equal(readInputFile(join(dir, 'small')), 'n1=1@192.0.2.1\n');
    await assert.rejects(loadConfigFile(join(dir, 'fifo')), (e: Error & { issues?: { code: string }[] }) => e.issues?.[0]?.code === 'E_CONF_NOT_FILE');
  });

  it('o2stack config check on a FIFO and on /dev/zero: an error at once, not a hang or an unbounded read', async function () {
    for (const p of [join(dir, 'fifo'), '/dev/zero']) {
      const t0 = Date.now();
      const r = await runCli(['config', 'check', p]);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /not a regular file/);
      assert.ok(Date.now() - t0 < 10_000, `${p} took ${Date.now() - t0} ms`);
    }
  });

  it('a volume or heartbeat device that is a FIFO: ENOTBLK with the fix, without waiting for a writer', function () {
    assert.throws(() => openBlockDevice(join(dir, 'fifo')), (e: unknown) => e instanceof KernelError && e.code === 'ENOTBLK' && /is a FIFO: give a block device/.test(e.hint ?? ''));
    assert.throws(() => openBlockDevice('/dev/zero'), (e: unknown) => e instanceof KernelError && e.code === 'ENOTBLK');
  });
});
