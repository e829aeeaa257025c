// npm run test:cluster — the o2stack daemon with corosync membership on a real 3-node corosync
// cluster in network namespaces: one daemon per node (test/cluster/daemon-agent.ts: DlmDaemon +
// CorosyncMembership, as `o2stack daemon --membership corosync` builds it) inside that node's
// namespace, each on its own fake kernel tree, lockspace uevents injected (the host has no fs/dlm
// lockspaces; see daemon-agent.ts). The real CLI is run for the start checks (cluster name,
// corosync not running). Root, corosync and the -dev packages needed (test/cluster/setup.sh);
// skipped with the reason otherwise. Everything started is stopped by PID.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadNative } from '../../lib/kernel/native.js';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import { Agent, clusterPrerequisites, NetnsCluster, now } from './netns.js';

const LS = 'D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A6';
const FORM_MS = 20000;
const repoRoot = resolve(import.meta.dirname, '..', '..');
const C = 'sys/kernel/config/dlm/cluster';

/** Runs the real CLI in a namespace; resolves with exit code and output (killed by PID after ms). */
function cliIn(ns: string, args: string[], ms = 30000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(repoRoot, 'lib/cli/main.ts'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(t);
      res({ code, out, err });
    });
  });
}

async function until(cond: () => boolean, what: string, ms = FORM_MS): Promise<number> {
  const t0 = now();
  const end = t0 + ms;
  while (!cond()) {
    if (now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return now() - t0;
}

describe('o2stack daemon with corosync membership (3 nodes in network namespaces, fake kernel trees)', function () {
  this.timeout(120000);
  let cluster: NetnsCluster | undefined;
  let skipReason: string | undefined;
  const agents = new Map<number, Agent>();
  const root = (i: number) => join(cluster!.dir, `tree-n${i}`);
  const sock = (i: number) => join(cluster!.dir, `n${i}.sock`);
  const fenceLog = () => (existsSync(join(cluster!.dir, 'fence.log')) ? readFileSync(join(cluster!.dir, 'fence.log'), 'utf8') : '');
  const fencesOf = (node: number) => fenceLog().split('\n').filter((b) => b.includes(` node=${node} `)).map((b) => /by=(n\d)/.exec(b)?.[1]).sort();
  const read = (i: number, p: string) => {
    try {
      return readFileSync(join(root(i), p), 'utf8');
    } catch {
      return undefined;
    }
  };
  const members = (i: number) => {
    const p = join(root(i), C, 'spaces', LS, 'nodes');
    return existsSync(p) ? readdirSync(p).map(Number).sort((a, b) => a - b).join(',') : '';
  };
  const control = (i: number) => read(i, `sys/kernel/dlm/${LS}/control`);
  const eventDone = (i: number) => read(i, `sys/kernel/dlm/${LS}/event_done`);
  const settled = (ids: number[], want: string) => () => ids.every((i) => members(i) === want && control(i) === '1');

  before(async function () {
    this.timeout(90000);
    const native = loadNative().corosync;
    skipReason = clusterPrerequisites();
    if (!skipReason && !native?.available) skipReason = native ? native.reason : 'the addon has no corosync surface';
    if (!skipReason) {
      cluster = new NetnsCluster({ prefix: 'o2d', clusterName: 'o2sdaemon' });
      try {
        cluster.setup();
      } catch (e) {
        skipReason = `could not build the namespaces: ${(e as Error & { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
      }
    }
    if (!skipReason) {
      for (let i = 1; i <= 3; i++) cluster!.startCorosync(i);
      for (let i = 1; i <= 3; i++) {
        const died = await cluster!.corosyncDiedWithin(i, i === 1 ? 1500 : 1);
        if (died) {
          skipReason = `corosync cannot run here: ${died}`;
          break;
        }
      }
    }
    if (skipReason) {
      console.log(`\n  SKIPPED: the daemon cluster suite cannot run here: ${skipReason}\n`);
      this.skip();
    }
    const dir = cluster!.dir;
    // one line per run, written with one write(2): runs on two nodes at once do not interleave
    writeFileSync(join(dir, 'fence.sh'), `#!/bin/sh\nline=$(tr '\\n' ' ')\nprintf '%s\\n' "$line" >> ${join(dir, 'fence.log')}\n`);
    chmodSync(join(dir, 'fence.sh'), 0o755);
  });

  after(async function () {
    this.timeout(60000);
    if (!cluster) return;
    if (this.currentTest?.state === 'failed' || process.exitCode) {
      for (const [i, a] of agents) console.log(`--- daemon n${i} (last events)\n${a.events.slice(-12).map((e) => JSON.stringify(e.data)).join('\n')}\n${a.stderr().slice(-1500)}`);
    }
    await cluster.teardown();
    cluster = undefined;
  });

  it('the CLI refuses a cluster name other than corosync\'s, and says how to fix it (exit 1)', async function () {
    // wait until n1's corosync answers (the first start takes a moment)
    let r = await cliIn('o2d-n1', ['daemon', '--fence-manual', '--cluster', 'wrongname', '--root', join(cluster!.dir, 'cli-tree'), '--socket', join(cluster!.dir, 'cli.sock')]);
    for (let i = 0; i < 10 && r.code === 3; i++) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await cliIn('o2d-n1', ['daemon', '--fence-manual', '--cluster', 'wrongname', '--root', join(cluster!.dir, 'cli-tree'), '--socket', join(cluster!.dir, 'cli.sock')]);
    }
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /--cluster wrongname does not match corosync's totem.cluster_name 'o2sdaemon'/);
    assert.match(r.err, /--cluster o2sdaemon|cluster_name: wrongname/);
  });

  it('the CLI without a corosync in its namespace: "cannot reach corosync" with `systemctl start corosync` (exit 3)', async function () {
    const r = await cliIn(cluster!.switchNs, ['daemon', '--fence-manual', '--root', join(cluster!.dir, 'cli-tree'), '--socket', join(cluster!.dir, 'cli.sock')]);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /cannot reach corosync/);
    assert.match(r.err, /systemctl start corosync/);
  });

  it('a daemon per node starts on corosync: cluster name and comms from its nodelist', async function () {
    for (let i = 1; i <= 3; i++) {
      const a = cluster!.startAgent(i, 'test/cluster/daemon-agent.ts');
      agents.set(i, a);
      await a.waitFor((e) => e.event === 'ready', FORM_MS, 'ready line');
      mkdirSync(root(i), { recursive: true });
      const r = await a.request<{ clusterName: string; localNodeId: number; nodes: { nodeid: number; addresses: string[] }[] }>('start', { root: root(i), socket: sock(i), fenceAgent: join(cluster!.dir, 'fence.sh'), node: `n${i}` }, FORM_MS);
      assert.equal(r.clusterName, 'o2sdaemon');
      assert.equal(r.localNodeId, i);
      assert.deepEqual(r.nodes.map((n) => `${n.nodeid}@${n.addresses.join(',')}`), ['1@192.0.2.1', '2@192.0.2.2', '3@192.0.2.3']);
      assert.equal(read(i, `${C}/cluster_name`), 'o2sdaemon');
      assert.equal(read(i, `${C}/comms/${i}/local`), '1');
    }
    await until(() => [1, 2, 3].every((i) => agents.get(i)!.events.some((e) => e.event === 'log' && e.data.event === 'quorum' && e.data.quorate === true && e.data.nodes.length === 3)), 'quorate with 3 nodes everywhere');
  });

  it('two nodes mount at once: the barrier gives both the same members; both joins answered 0', async function () {
    const t0 = now();
    await Promise.all([1, 2].map((i) => agents.get(i)!.request('mount', { ls: LS })));
    await until(() => settled([1, 2], '1,2')() && eventDone(1) === '0' && eventDone(2) === '0', 'members 1,2 on n1 and n2');
    console.log(`      (two joins at once -> both running with members 1,2: ${Math.round(now() - t0)} ms)`);
    assert.equal(members(3), '', 'n3 has not mounted');
    // n3 knows who has it from the daemon group's announcements (cluster-wide group tracking)
    const t0v = now();
    let seen: unknown;
    while (now() - t0v < FORM_MS) {
      seen = await request(sock(3), 'groups');
      if (JSON.stringify(seen) === JSON.stringify([{ uuid: LS, nodes: [1, 2], state: 'not mounted here' }])) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(seen, [{ uuid: LS, nodes: [1, 2], state: 'not mounted here' }], "n3's view of a volume it has not mounted");
  });

  it('a node joins the running lockspace; group tracking agrees on all three (control socket `groups`)', async function () {
    const t0 = now();
    await agents.get(3)!.request('mount', { ls: LS });
    await until(() => settled([1, 2, 3], '1,2,3')() && eventDone(3) === '0', 'members 1,2,3 everywhere');
    console.log(`      (n3 joins the running lockspace: ${Math.round(now() - t0)} ms)`);
    for (let i = 1; i <= 3; i++) assert.deepEqual(await request(sock(i), 'groups'), [{ uuid: LS, nodes: [1, 2, 3], state: 'running' }], `n${i}`);
    // every node saw the same sequence of group views from the moment n3 joined
    const views = (i: number) => {
      const g = agents.get(i)!.events.filter((e) => e.event === 'group').map((e) => JSON.stringify(e.data));
      return g.slice(g.findIndex((s) => s.includes('"joined":[3]')));
    };
    assert.deepEqual(views(1), views(3));
    assert.deepEqual(views(2), views(3));
  });

  it("a peer's clean unmount: removed on the others without fencing; it mounts again", async function () {
    const t0 = now();
    await agents.get(2)!.request('umount', { ls: LS });
    await until(() => settled([1, 3], '1,3')() && eventDone(2) === '0', 'n2 removed on n1 and n3');
    console.log(`      (clean leave of n2 -> removed on n1, n3: ${Math.round(now() - t0)} ms)`);
    assert.equal(fenceLog(), '', 'nobody was fenced');
    for (const i of [1, 3]) assert.ok(existsSync(join(root(i), C, 'comms/2')), `n${i} kept n2's comm`);
    assert.equal(existsSync(join(root(2), C, 'spaces', LS)), false);
    await agents.get(2)!.waitFor((e) => e.event === 'group' && e.data.uuid === LS && JSON.stringify(e.data.nodes) === '[1,3]' && JSON.stringify(e.data.left) === '[2]', FORM_MS, "n2's own 'group' event after its unmount");
    assert.deepEqual(await request(sock(2), 'groups'), [{ uuid: LS, nodes: [1, 3], state: 'not mounted here' }]);
    await agents.get(2)!.request('mount', { ls: LS });
    await until(settled([1, 2, 3], '1,2,3'), 'n2 back in');
  });

  it("a node dies (its corosync SIGKILLed by PID): n1 alone fences it (test agent, once), both remove its comm and restart without it", async function () {
    const t0 = now();
    await cluster!.killCorosync(3, 'SIGKILL');
    const ms = await until(() => settled([1, 2], '1,2')() && [1, 2].every((i) => !existsSync(join(root(i), C, 'comms/3'))), 'n3 fenced and removed on n1 and n2', 30000);
    console.log(`      (corosync n3 killed -> fenced, comm removed, running with 1,2 on both: ${Math.round(now() - t0)} ms; token ${cluster!.tokenMs} ms)`);
    // one fencer: the lowest live member of the daemon group runs the agent, once, for the cluster
    assert.deepEqual(fencesOf(3), ['n1']);
    assert.match(fenceLog(), /^by=n1 node=3 fail_time=\d+ $/m);
    assert.ok(ms > 0);
    for (const i of [1, 2]) assert.deepEqual(await request(sock(i), 'groups'), [{ uuid: LS, nodes: [1, 2], state: 'running' }]);
    // n3's own daemon lost its membership service: it says so
    const down = await agents.get(3)!.waitFor((e) => e.event === 'log' && e.data.event === 'membership-down', FORM_MS, 'membership-down on n3');
    // ...stops every lockspace (no lock granted there any more) and stops itself (the CLI exits 1)
    assert.match(String((down as { data: { msg: string } }).data.msg), /every lockspace stopped/);
    assert.equal(control(3), '0', "n3's lockspace still running without membership");
    await agents.get(3)!.waitFor((e) => e.event === 'log' && e.data.event === 'stop', FORM_MS, "n3's daemon stopped itself");
  });

  it('quorum lost (n2 killed too, n1 alone of 3): n1 stops the lockspace and neither fences nor restarts', async function () {
    await cluster!.killCorosync(2, 'SIGKILL');
    const a1 = agents.get(1)!;
    await a1.waitFor((e) => e.event === 'log' && e.data.event === 'quorum' && e.data.quorate === false, 30000, 'n1 inquorate');
    await until(() => control(1) === '0', 'n1 stopped the lockspace', 30000);
    // several token timeouts: nothing may happen
    await new Promise((r) => setTimeout(r, 4 * cluster!.tokenMs));
    assert.deepEqual(fencesOf(2), [], 'fenced without quorum');
    assert.equal(control(1), '0', 'restarted without quorum');
    assert.equal(members(1), '1,2', 'n2 removed without quorum');
    assert.ok(existsSync(join(root(1), C, 'comms/2')), "n2's comm removed without quorum");
    const st = (await request(sock(1), 'lockspaces')) as { state: string; waitingFor?: string }[];
    assert.equal(st[0]?.state, 'stopped');
  });
});
