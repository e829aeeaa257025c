import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fenceMethod } from '../../lib/cli/commands/daemon.js';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import { runCli } from '../support/runCli.js';
import { until } from '../support/until.js';

describe('o2stack daemon: membership flags', function () {
  it('usage errors (exit 2): unknown --membership, --members with corosync, static without --members, bad numbers', async function () {
    const cases: [string[], RegExp][] = [
      [['daemon', '--membership', 'pacemaker'], /--membership pacemaker: corosync or static/],
      [['daemon', '--membership', 'corosync', '--members', '/nonexistent'], /--members is for --membership static/],
      [['daemon', '--membership', 'static'], /needs --members FILE/],
      [['daemon', '--node-id', 'x'], /--node-id "x": a whole number from 1 to 4294967295/],
      [['daemon', '--node-id', '0'], /--node-id "0": a whole number from 1/],
      // numbers: checked before anything else (a NaN fence timeout never ended a fence)
      [['daemon', '--fence-timeout', 'abc', '--unsafe-skip-fencing'], /--fence-timeout "abc": milliseconds, a whole number from 1 to 86400000/],
      [['daemon', '--join-timeout', '-5', '--unsafe-skip-fencing'], /--join-timeout "-5": milliseconds/],
      [['daemon', '--probe-dead', 'abc', '--unsafe-skip-fencing'], /--probe-dead "abc"/],
      [['daemon', '--probe-port', '70000', '--unsafe-skip-fencing'], /--probe-port "70000": a whole number from 1 to 65535/],
      [['daemon', '--post-join-delay', '1e3', '--unsafe-skip-fencing'], /--post-join-delay "1e3"/],
      [['daemon', '--members', '/nonexistent', '--fence-manual'], /--cluster NAME is needed/],
      [['daemon', '--fence-manual', '--unsafe-skip-fencing'], /--fence-manual and --unsafe-skip-fencing: give one fence method/],
      [['daemon', '--fence-pacemaker', '--fence-manual'], /--fence-pacemaker and --fence-manual: give one fence method/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });
});

describe('o2stack daemon: a fence method is required', function () {
  it('none, or an empty --fence-agent (an unset variable in the unit file): refused, exit 6, with the three ways', async function () {
    for (const args of [['daemon', '--members', '/nonexistent', '--cluster', 'demo'], ['daemon', '--fence-agent', '', '--members', '/nonexistent', '--cluster', 'demo']]) {
      const r = await runCli(args);
      assert.equal(r.code, 6, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, args.includes('') ? /--fence-agent is empty/ : /no fence method/);
      assert.match(r.err, /--fence-manual/);
      assert.match(r.err, /--fence-pacemaker/);
    }
  });

  it('none given but started by Pacemaker (OCF_RESOURCE_INSTANCE or PCMK_service): Pacemaker fencing; elsewhere refused', function () {
    assert.equal(fenceMethod({}, { OCF_RESOURCE_INSTANCE: 'o2stack-daemon:1' }), 'pacemaker');
    assert.equal(fenceMethod({}, { PCMK_service: 'pacemaker-execd' }), 'pacemaker');
    assert.equal(fenceMethod({ fencePacemaker: true }), 'pacemaker');
    // an explicit method wins over the environment
    assert.equal(fenceMethod({ fenceManual: true }, { OCF_RESOURCE_INSTANCE: 'x' }), 'manual');
    assert.throws(() => fenceMethod({}, {}), /no fence method/);
    assert.throws(() => fenceMethod({ fenceAgent: ' ' }, { OCF_RESOURCE_INSTANCE: 'x' }), /--fence-agent is empty/);
  });
});

describe('o2stack daemon --root: a fake kernel tree on the host', function () {
  this.timeout(30000);
  it('runs as a process against a directory (no dlm monitor or plock device there), answers status, exits 0 on SIGTERM', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'o2s-fakeroot-'));
    mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
    writeFileSync(join(dir, 'members'), 'n1=1@192.0.2.1\n');
    const sock = join(dir, 'o2.sock');
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url)), 'daemon', '--root', dir, '--members', join(dir, 'members'), '--node-id', '1', '--cluster', 'demo', '--unsafe-skip-fencing', '--liveness', 'none', '--socket', sock], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    try {
      await until(() => log.includes('"event":"ready"') || child.exitCode !== null, `ready (${log})`, 25000);
      assert.match(log, /no monitor \(fake kernel tree\)/);
      const st = (await request(sock, 'status')) as { cluster: string; plocks: { mode: string } };
      assert.equal(st.cluster, 'demo');
      assert.equal(readFileSync(join(dir, 'sys/kernel/config/dlm/cluster/cluster_name'), 'utf8'), 'demo');
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.once('exit', (c) => r(c)));
      assert.equal(code, 0, log);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
