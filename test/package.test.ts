// The npm package as users get it: what the tarball holds (npm pack's own list) and the library
// loaded from CommonJS as well as ESM. Needs `npm run build` for the require() check.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the npm package', function () {
  this.timeout(60000);

  it('the tarball: built library, CLI, man page, units, LICENSE; no tests, VM harness, build scripts, source maps or code cache', function () {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = ((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files).map((f) => f.path);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'systemd/o2stack.service', 'systemd/o2stack-daemon.service', 'scripts/bin.cjs', 'ocf/o2stack-daemon', 'ocf/o2stack-o2cb']) assert.ok(files.includes(f), `${f} is in the package`);
    if (existsSync(join(root, 'dist', 'index.cjs'))) for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/o2stack.cjs', 'dist/o2stack-cli.cjs', 'dist/o2stack-o2nm.cjs', 'dist/o2stack.8']) assert.ok(files.includes(f), `${f} is in the package`);
    const unwanted = files.filter((f) => /^(test|vm|bench|demo|lib|\.ci)\//.test(f) || /\.(map|cache)$/.test(f) || (f.startsWith('scripts/') && f !== 'scripts/bin.cjs'));
    assert.deepEqual(unwanted, []);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(pkg.os, ['linux']);
    assert.equal(pkg.license, 'MIT');
    assert.ok(pkg.homepage);
    assert.equal((pkg.scripts as Record<string, string>).prepack, 'npm run build && npm run build:prebuilds');
    assert.equal((pkg.scripts as Record<string, string>).install, 'node-gyp-build', 'a source build only when no prebuilt binary fits');
    assert.ok(((pkg.files as string[]) ?? []).includes('prebuilds/'));
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

  it('the packed tarball installs and runs on a machine without g++, make or python: prebuilt addon, install scripts blocked or allowed', function () {
    this.timeout(300000);
    if (!existsSync(join(root, 'dist', 'index.cjs'))) {
      console.log('      skip: not built (npm run build)');
      this.skip();
    }
    const work = mkdtempSync(join(tmpdir(), 'o2s-tarball-'));
    try {
      // A staging copy of exactly what npm packs, given its prebuilt addon there (prebuildify moves
      // build/Release's file, so never in the working tree), then packed without prepack.
      const listed = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
      const stage = join(work, 'stage');
      for (const f of (JSON.parse(listed) as { files: { path: string }[] }[])[0]!.files) {
        mkdirSync(dirname(join(stage, f.path)), { recursive: true });
        cpSync(join(root, f.path), join(stage, f.path));
      }
      symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
      execFileSync(join(root, 'node_modules', '.bin', 'prebuildify'), ['--napi', '--strip', '--tag-libc'], { cwd: stage, stdio: 'ignore' });
      rmSync(join(stage, 'build'), { recursive: true, force: true });
      rmSync(join(stage, 'node_modules'));
      const built = readdirSync(join(stage, 'prebuilds', `linux-${process.arch}`));
      assert.deepEqual(built, ['ocfs2-stack.glibc.node']);
      const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage, encoding: 'utf8' });
      const tarball = join(work, (JSON.parse(tgz) as { filename: string }[])[0]!.filename);

      // PATH with node and sh only: no compiler, make or python for node-gyp to find.
      const bin = join(work, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync('/bin/sh', join(bin, 'sh'));
      const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
      assert.ok(existsSync(npmCli), `npm's CLI at ${npmCli}`);
      for (const gate of ['blocked', 'allowed'] as const) {
        const project = join(work, `project-${gate}`);
        mkdirSync(project);
        writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${gate}`, version: '1.0.0', private: true, ...(gate === 'allowed' ? { allowScripts: { 'ocfs2-stack': true } } : {}) }));
        const args = [npmCli, 'install', tarball, '--no-audit', '--no-fund', '--prefer-offline', ...(gate === 'allowed' ? ['--foreground-scripts'] : [])];
        const env = { HOME: process.env.HOME ?? '/root', PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm') };
        const inst = spawnSync(process.execPath, args, { cwd: project, env, encoding: 'utf8', timeout: 240000 });
        assert.equal(inst.status, 0, `npm install (${gate}) failed:\n${inst.stdout}\n${inst.stderr}`);
        // allowed: our install script ran (node-gyp-build found the prebuilt binary and built nothing)
        if (gate === 'allowed') assert.match(inst.stdout + inst.stderr, /node-gyp-build/);
        else assert.doesNotMatch(inst.stdout + inst.stderr, /gyp info/);
        const pkgDir = join(project, 'node_modules', 'ocfs2-stack');
        assert.ok(!existsSync(join(pkgDir, 'build')), `no source build happened (${gate})`);
        // the CLI, and the library from CommonJS: the addon from prebuilds/, both stacks' code paths
        const cli = spawnSync(process.execPath, [join(pkgDir, 'dist', 'o2stack.cjs'), '--version'], { cwd: project, env, encoding: 'utf8' });
        assert.equal(cli.status, 0, cli.stderr);
        const fake = join(work, `fake-${gate}`);
        const lib = spawnSync(process.execPath, ['-e', `
          const m = require('ocfs2-stack');
          m.makeFakeKernelTree(${JSON.stringify(fake)});
          const b = new m.NativeBackend({ root: ${JSON.stringify(fake)} });
          const o2cb = m.readO2nmState(b).clusters.length;
          const cs = m.corosyncAvailability();
          console.log(JSON.stringify({ o2cb, corosync: cs }));`], { cwd: project, env, encoding: 'utf8' });
        assert.equal(lib.status, 0, lib.stderr);
        const got = JSON.parse(lib.stdout.trim()) as { o2cb: number; corosync: { available: boolean; reason?: string } };
        assert.equal(got.o2cb, 0);
        // the corosync surface loads its libraries at run time: available where they are installed
        const haveLibs = ['/usr/lib/x86_64-linux-gnu/libcpg.so.4', '/usr/lib/aarch64-linux-gnu/libcpg.so.4', '/usr/lib64/libcpg.so.4'].some((f) => existsSync(f));
        if (haveLibs) assert.equal(got.corosync.available, true, got.corosync.reason);
        else assert.match(got.corosync.reason ?? '', /libcpg\.so\.4 could not be loaded/);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
