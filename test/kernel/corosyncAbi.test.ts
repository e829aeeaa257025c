// The corosync surface is built without corosync's headers and dlopens its libraries at run time:
// (1) native/corosync_api.h declares the same ABI as corosync's headers (compile-time check), and
// (2) where the libraries cannot be loaded the surface says which one and what to install, and
// every call fails with E_NO_COROSYNC instead of crashing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..');
const headers = '/usr/include/corosync/cpg.h';

describe('corosync ABI and run-time loading', function () {
  this.timeout(60000);

  it("native/corosync_api.h matches corosync's headers: constants, struct layouts, callback and function types", function () {
    if (!existsSync(headers)) {
      console.log(`      skip: corosync's headers are not installed (${headers}; apt-get install libcpg-dev libquorum-dev libcmap-dev to run this check)`);
      this.skip();
    }
    const gxx = spawnSync('g++', ['--version'], { stdio: 'ignore' });
    if (gxx.status !== 0) {
      console.log('      skip: no g++ to compile the check (apt-get install g++)');
      this.skip();
    }
    const r = spawnSync('g++', ['-std=c++17', '-fsyntax-only', '-I', join(repo, 'native'), join(repo, 'test/kernel/corosyncAbi.check.cc')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `the ABI check did not compile:\n${r.stderr}`);
  });

  it('where libcpg.so.4 cannot be loaded: the reason names it, dlopen\'s error and the packages; calls fail with E_NO_COROSYNC', function () {
    // Hide the real library in a private mount namespace (bind /dev/null over it): no test knob in
    // the addon, the loader meets a file it cannot load.
    if (process.getuid?.() !== 0 || spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status !== 0) {
      console.log('      skip: needs root and unshare -m to hide libcpg.so.4 in a mount namespace');
      this.skip();
    }
    const libdirs = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/lib/aarch64-linux-gnu'];
    const hide: string[] = [];
    for (const d of libdirs) {
      try {
        for (const f of readdirSync(d)) if (f.startsWith('libcpg.so.4')) hide.push(join(d, f));
      } catch {
        /* no such directory */
      }
    }
    const script = `
      import { loadNative } from ${JSON.stringify(join(repo, 'lib/kernel/native.ts'))};
      import { CpgGroup } from ${JSON.stringify(join(repo, 'lib/kernel/corosync.ts'))};
      const s = loadNative().corosync;
      let code = 'none';
      try { await CpgGroup.join('g'); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ available: s.available, reason: s.reason, code }));`;
    // mount --bind of /dev/null over each file that is there (libcpg.so.4 may be a symlink: bind the target too)
    const binds = hide.map((f) => `mount --bind /dev/null ${f} 2>/dev/null || true;`).join(' ');
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${binds} exec "$0" --import tsx --input-type=module -e "$1"`, process.execPath, script], { encoding: 'utf8', cwd: repo });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { available: boolean; reason?: string; code: string };
    assert.equal(out.available, false, `libcpg.so.4 was still loaded (hidden: ${hide.join(', ') || 'nothing found to hide'})`);
    assert.match(out.reason!, /^libcpg\.so\.4 could not be loaded \(.+\): corosync's client libraries are not installed\. Install them: apt-get install libcpg4 libquorum5 libcmap4/);
    assert.equal(out.code, 'E_NO_COROSYNC');
  });
});
