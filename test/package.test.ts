// The npm package as users get it: what the tarball holds (npm pack's own list) and the library
// loaded from CommonJS as well as ESM. Needs `npm run build` for the require() check.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the npm package', function () {
  this.timeout(60000);

  it('the tarball: built library, CLI, man page, units, LICENSE; no tests, VM harness, build scripts, source maps or code cache', function () {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = ((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files).map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'systemd/o2stack.service', 'systemd/o2stack-daemon.service', 'scripts/bin.cjs']) assert.ok(files.includes(f), `${f} is in the package`);
    if (existsSync(join(root, 'dist', 'index.cjs'))) for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/o2stack.cjs', 'dist/o2stack-cli.cjs', 'dist/o2stack.8']) assert.ok(files.includes(f), `${f} is in the package`);
    const unwanted = files.filter((f) => /^(test|vm|bench|demo|lib|\.ci)\//.test(f) || /\.(map|cache)$/.test(f) || (f.startsWith('scripts/') && f !== 'scripts/bin.cjs'));
    assert.deepEqual(unwanted, []);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(pkg.os, ['linux']);
    assert.equal(pkg.license, 'MIT');
    assert.ok(pkg.homepage);
    assert.equal((pkg.scripts as Record<string, string>).prepack, 'npm run build');
  });

  it('require() gives the same API as import (exports "require" → dist/index.cjs)', function () {
    if (!existsSync(join(root, 'dist', 'index.cjs'))) this.skip(); // not built: `npm run build`
    // a project with the package in its node_modules, resolved by name through "exports"
    const project = mkdtempSync(join(tmpdir(), 'o2s-pkg-'));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(root, join(project, 'node_modules', 'ocfs2-stack'));
    const r = spawnSync(process.execPath, ['-e', `
      const cjs = require('ocfs2-stack');
      import('ocfs2-stack').then((esm) => {
        const a = Object.keys(cjs).sort(), b = Object.keys(esm).sort();
        if (JSON.stringify(a) !== JSON.stringify(b)) { console.error('differ', a.filter((k) => !b.includes(k)), b.filter((k) => !a.includes(k))); process.exit(1); }
        const sim = new cjs.SimBackend();
        sim.mkdir('/sys/kernel/config/cluster/x');
        console.log(a.length, typeof cjs.planO2nm, cjs.readO2nmState(sim).clusters.length);
      });`], { encoding: 'utf8', cwd: project });
    rmSync(project, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d{3} function 1\n$/);
  });
});
