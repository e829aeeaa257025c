// The built bin (dist/o2stack.cjs → the CommonJS bundle dist/o2stack-cli.cjs with its V8 code
// cache), as users run it: the tests elsewhere run the TypeScript sources. Needs `npm run build`.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'dist', 'o2stack.cjs');
const conf = (name: string) =>
  `cluster:\n\tnode_count = 2\n\tname = ${name}\n\n` + [1, 2].map((n) => `node:\n\tip_port = 7777\n\tip_address = 192.0.2.${n}\n\tnumber = ${n}\n\tname = n${n}\n\tcluster = ${name}\n`).join('\n');

describe('the built bin (dist/o2stack.cjs)', function () {
  this.timeout(20000);
  let dir: string;
  before(function () {
    if (!existsSync(bin) || !existsSync(join(root, 'dist', 'o2stack-cli.cjs'))) this.skip(); // not built: `npm run build` makes dist/
    dir = mkdtempSync(join(tmpdir(), 'o2s-bin-'));
    makeFakeKernelTree(join(dir, 'root'));
    writeFileSync(join(dir, 'cluster.conf'), conf('bintest'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  const linkOnce = (name: string) => existsSync(join(dir, name)) || symlinkSync(join(root, name), join(dir, name));
  const run = (args: string[], binPath = bin) => spawnSync(process.execPath, [binPath, ...args], { encoding: 'utf8' });

  it('prints help, and a usage error exits 2', function () {
    const help = run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: o2stack/);
    assert.match(help.stdout, /apply/);
    assert.equal(run(['aply']).status, 2);
  });

  it('runs the o2cb verbs, configure, config check and config enabled from the bundle (no dynamic import of a built-in)', function () {
    const c = join(dir, 'verbs.conf');
    const d = join(dir, 'o2cb');
    for (const args of [['add-cluster', 'web'], ['add-node', 'web', 'n1', '--ip', '10.0.0.1'], ['add-node', 'web', 'localhost']]) {
      const r = run(['o2cb', '--config-file', c, ...args]);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(run(['o2cb', '--config-file', c, 'list-nodes', '--oneline', 'web']).stdout, 'node: 0 n1 10.0.0.1:7777 web\nnode: 1 localhost 127.0.0.1:7777 web\n');
    const w = run(['configure', '--defaults', d, '--enabled', 'false', '--idle-timeout-ms', '10000']);
    assert.equal(w.status, 0, w.stderr);
    assert.match(run(['config', 'check', d]).stdout, /valid o2cb defaults file/);
    assert.equal(run(['config', 'enabled', '--defaults', d]).status, 1);
  });

  it('run under the name mount.ocfs2 (the package\'s second bin), it is mount(8)\'s helper: its usage, its exit codes', function () {
    const link = join(dir, 'mount.ocfs2');
    if (!existsSync(link)) symlinkSync(bin, link);
    const help = run(['-h'], link);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /usage: mount\.ocfs2 DEVICE DIR \[-sfnv\]/);
    const bad = run(['/dev/nonexistent'], link);
    assert.equal(bad.status, 1, 'usage error: mount(8) code 1');
    assert.match(bad.stderr, /^mount\.ocfs2: DEVICE and DIR are both needed/);
    const viaCli = run(['mount.ocfs2', '-x', 'a', 'b']);
    assert.equal(viaCli.status, 1);
    assert.match(viaCli.stderr, /unknown option -x/);
  });

  it('applies a cluster to a fake tree and shows it back as JSON', function () {
    const a = run(['apply', '--root', join(dir, 'root'), '--config', join(dir, 'cluster.conf'), '--node', 'n1']);
    assert.equal(a.status, 0, a.stderr);
    assert.deepEqual(readdirSync(join(dir, 'root/sys/kernel/config/cluster/bintest/node')).sort(), ['n1', 'n2']);
    const show = JSON.parse(execFileSync(process.execPath, [bin, 'show', '--json', '--root', join(dir, 'root')], { encoding: 'utf8' })) as unknown;
    assert.match(JSON.stringify(show), /"bintest"/);
  });

  it('loads no child_process, crypto, net, streams or fs.promises for a plan (they load on first use)', function () {
    // output to /dev/null and the list to a file: a pipe or a terminal on stdout/stderr is a
    // net.Socket, which would load net by itself
    const list = join(dir, 'modules.json');
    const probe = `const base = new Set(process.moduleLoadList);
process.argv = [process.argv[0], ${JSON.stringify(bin)}, 'plan', '--root', ${JSON.stringify(join(dir, 'root'))}, '--config', ${JSON.stringify(join(dir, 'cluster.conf'))}];
const exit = process.exit;
process.exit = (c) => { require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList.filter((m) => !base.has(m)))); exit(c); };
const b = require(${JSON.stringify(bin)});
b.loadBundle(undefined, b.bundleFor(process.argv.slice(2), 'o2stack')).exports.run();`;
    const r = spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' });
    assert.equal(r.status, 0);
    const loaded = JSON.parse(readFileSync(list, 'utf8')) as string[];
    for (const m of ['child_process', 'crypto', 'net', 'stream', 'internal/fs/promises']) assert.ok(!loaded.includes(`NativeModule ${m}`), `${m} was loaded: ${loaded.join(', ')}`);
  });

  it('installs helpers that run the bin: the OCF agent (monitor 7 with no daemon) and mount.ocfs2 (its usage)', function () {
    const hroot = join(dir, 'helpers-root');
    execFileSync('mkdir', ['-p', join(hroot, 'sbin')]);
    const i = run(['helpers', 'install', '--root', hroot]);
    assert.equal(i.status, 0, i.stderr);
    const agent = join(hroot, 'usr/lib/ocf/resource.d/o2stack/o2stack-daemon');
    assert.match(readFileSync(agent, 'utf8'), /dist\/o2stack\.cjs/, 'the agent runs the bin, not a bundle (a bundle alone does nothing and exits 0)');
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: join(hroot, 'none'), OCF_RESKEY_socket: join(hroot, 'none.sock'), OCF_RESKEY_pidfile: join(hroot, 'none.pid') };
    const m = spawnSync(agent, ['monitor'], { encoding: 'utf8', cwd: '/', env });
    assert.equal(m.status, 7, `monitor without a daemon: OCF_NOT_RUNNING (${m.stderr})`);
    const helper = spawnSync(join(hroot, 'sbin', 'mount.ocfs2'), [], { encoding: 'utf8', cwd: '/', env });
    assert.equal(helper.status, 1, `mount.ocfs2 without arguments: its usage, exit 1 (${helper.stdout}${helper.stderr})`);
    assert.match(helper.stderr + helper.stdout, /usage/i);
  });

  it('the whole-CLI bundle still runs as a program (helpers installed by earlier versions exec it)', function () {
    const cliBundle = join(root, 'dist', 'o2stack-cli.cjs');
    const v = spawnSync(process.execPath, [cliBundle, '--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
    const s = spawnSync(process.execPath, [cliBundle, 'daemon-ctl', 'status', '--socket', join(dir, 'no-daemon.sock')], { encoding: 'utf8' });
    assert.equal(s.status, 3, `not running: exit 3 (${s.stderr})`);
  });

  it('runs plan, apply and show from the o2nm bundle, everything else from the whole CLI', async function () {
    const req = createRequire(import.meta.url);
    const b = req(bin) as { O2NM_COMMANDS: string[]; bundleFor: (argv: string[], as: string) => string; bundles: { cli: string; o2nm: string } };
    const { O2NM_COMMANDS } = await import('../../lib/cli/commands/o2nm.js');
    assert.deepEqual(b.O2NM_COMMANDS, [...O2NM_COMMANDS], 'scripts/bin.cjs lists the o2nm commands as lib/cli/commands/o2nm.ts does');
    assert.equal(b.bundleFor(['--root', '/x', 'apply', '--node', 'n'], 'o2stack'), b.bundles.o2nm);
    assert.equal(b.bundleFor(['--config', 'apply', 'status'], 'o2stack'), b.bundles.cli, "an option's value is not the command");
    assert.equal(b.bundleFor(['show'], 'mount.ocfs2'), b.bundles.cli, 'the mount helper is in the whole CLI');
    assert.equal(b.bundleFor(['--help'], 'o2stack'), b.bundles.cli);
    // a copy of dist/ without the whole CLI still applies and shows; anything else needs it
    const copy = join(dir, 'o2nm-only');
    execFileSync('mkdir', ['-p', copy]);
    copyFileSync(bin, join(copy, 'o2stack.cjs'));
    copyFileSync(join(root, 'dist', 'o2stack-o2nm.cjs'), join(copy, 'o2stack-o2nm.cjs'));
    // the addon and the packages, found from the copy's parent as from the package's root
    linkOnce('node_modules');
    linkOnce('build');
    linkOnce('package.json');
    const tree = join(dir, 'o2nm-root');
    makeFakeKernelTree(tree);
    const a = run(['apply', '--root', tree, '--config', join(dir, 'cluster.conf'), '--node', 'n1'], join(copy, 'o2stack.cjs'));
    assert.equal(a.status, 0, a.stderr);
    assert.match(run(['show', '--root', tree], join(copy, 'o2stack.cjs')).stdout, /cluster bintest: 2 nodes/);
    assert.notEqual(run(['status', '--root', tree], join(copy, 'o2stack.cjs')).status, 0, 'status is not in the o2nm bundle');
  });

  it('runs without its code cache, and with a cache V8 rejects', function () {
    const copy = join(dir, 'dist');
    execFileSync('mkdir', ['-p', copy]);
    copyFileSync(bin, join(copy, 'o2stack.cjs'));
    copyFileSync(join(root, 'dist', 'o2stack-cli.cjs'), join(copy, 'o2stack-cli.cjs'));
    linkOnce('node_modules');
    const cache = join(copy, `o2stack-cli.cjs.${process.version}-${process.arch}.cache`);
    rmSync(cache, { force: true });
    assert.equal(run(['--help'], join(copy, 'o2stack.cjs')).status, 0, 'no cache');
    assert.ok(existsSync(cache), 'a run without a cache writes one for this Node at exit');
    const made = readFileSync(cache);
    assert.ok(made.length > 10_000, `${made.length} bytes`);
    assert.equal(run(['--help'], join(copy, 'o2stack.cjs')).status, 0, 'with the cache it made');
    assert.deepEqual(readFileSync(cache), made, 'an accepted cache is not rewritten');
    writeFileSync(cache, Buffer.from('not a V8 code cache'));
    const r = run(['--help'], join(copy, 'o2stack.cjs'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: o2stack/);
    assert.notEqual(readFileSync(cache).toString(), 'not a V8 code cache', 'a rejected cache is replaced');
    assert.deepEqual(readdirSync(copy).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  });
});
