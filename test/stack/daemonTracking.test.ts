// The o2stack daemon beside dlm_controld (tracking mode, lib/stack/daemon/tracking.ts): two
// tracking daemons (n1, n2) and one standalone DlmDaemon (n3) in one process, each on its own fake
// kernel tree, sharing a StaticCluster hub as their CPG. The test plays the kernel (sysfs
// lockspace dirs, injected uevents) and dlm_controld (its configfs member lists); the tracking
// daemons must follow both, agree on the groups with each other and with the standalone daemon
// (same daemon-group wire format), refuse recovery commands, survive dlm_controld going away, and
// never write anything: every backend write is trapped and each tree is compared with what the
// test itself last wrote.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonMode } from '../../lib/cli/commands/daemon.js';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { DAEMON_GROUP } from '../../lib/model/mountTracker.js';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import { DaemonRefusal, DlmDaemon, type GroupEvent, type LogEntry } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';
import { TrackingDaemon } from '../../lib/stack/daemon/tracking.js';
import { StaticCluster, StaticMembership } from '../../lib/stack/membership/static.js';
import { runCli } from '../support/runCli.js';
import { until } from '../support/until.js';

const LS = '7A1B2C3D4E5F60718293A4B5C6D7E8F9';
const OLD = '0123456789ABCDEF0123456789ABCDEF';
const VOL2 = '22222222222222222222222222222222';
const VOL3 = '33333333333333333333333333333333';
const HUNG = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const C = 'sys/kernel/config/dlm/cluster';
const WRITERS = new Set(['write', 'mkdir', 'rmdir', 'batch', 'batchAsync']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('o2stack daemon beside dlm_controld (tracking mode: two tracking daemons and a standalone one, fake kernel trees)', function () {
  this.timeout(20000);
  let dir: string;
  let cluster: StaticCluster;
  const tracking = new Map<number, TrackingDaemon>();
  const uevents = new Map<number, InjectedUevents>();
  const groupEvents = new Map<number, GroupEvent[]>();
  const logs = new Map<number, LogEntry[]>();
  /** backend calls that would have written (none may happen) */
  const writes: string[] = [];
  /** the tree of each node as the test (kernel + dlm_controld) last left it */
  const expected = new Map<number, string[]>();
  /** is "dlm_controld" running on node id */
  const controldUp = new Map<number, boolean>([
    [1, true],
    [2, true],
  ]);
  let standalone: DlmDaemon;
  const root = (id: number) => join(dir, `n${id}`);
  const sock = (id: number) => join(dir, `n${id}.sock`);

  /** Every path under the node's tree, with file contents. */
  function snapshot(id: number): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
      const p = join(root(id), rel);
      if (statSync(p).isDirectory()) {
        out.push(`${rel}/`);
        for (const e of readdirSync(p).sort()) walk(rel ? `${rel}/${e}` : e);
      } else out.push(`${rel} = ${readFileSync(p, 'utf8')}`);
    };
    walk('');
    return out;
  }
  const wrote = (id: number) => expected.set(id, snapshot(id));
  function assertUntouched(): void {
    assert.deepEqual(writes, [], 'a tracking daemon called a backend write');
    for (const id of [1, 2]) assert.deepEqual(snapshot(id), expected.get(id), `n${id}'s tree changed under the tracking daemon`);
  }

  // ---- the kernel and dlm_controld, played by the test ----
  function kernelOnline(id: number, ls: string, event = true): void {
    mkdirSync(join(root(id), 'sys/kernel/dlm', ls), { recursive: true });
    writeFileSync(join(root(id), 'sys/kernel/dlm', ls, 'id'), '12345\n');
    wrote(id);
    if (event) uevents.get(id)!.lockspace('online', ls);
  }
  function kernelOffline(id: number, ls: string): void {
    uevents.get(id)!.lockspace('offline', ls);
    rmSync(join(root(id), C, 'spaces', ls), { recursive: true, force: true });
    rmSync(join(root(id), 'sys/kernel/dlm', ls), { recursive: true, force: true });
    wrote(id);
  }
  /** dlm_controld on node id writes the lockspace's members (mkdir nodes/N, nodeid; rmdir the rest) */
  function controldMembers(id: number, ls: string, members: number[]): void {
    const nodes = join(root(id), C, 'spaces', ls, 'nodes');
    mkdirSync(nodes, { recursive: true });
    for (const n of readdirSync(nodes)) if (!members.includes(Number(n))) rmSync(join(nodes, n), { recursive: true });
    for (const m of members) {
      mkdirSync(join(nodes, String(m)), { recursive: true });
      writeFileSync(join(nodes, String(m), 'nodeid'), String(m));
    }
    wrote(id);
  }
  /** fs/dlm's configfs as dlm_controld leaves it after its start: cluster name, comms */
  function controldConfigured(id: number): void {
    for (const n of [1, 2, 3]) {
      mkdirSync(join(root(id), C, 'comms', String(n)), { recursive: true });
      writeFileSync(join(root(id), C, 'comms', String(n), 'nodeid'), String(n));
      writeFileSync(join(root(id), C, 'comms', String(n), 'local'), n === id ? '1' : '0');
    }
    writeFileSync(join(root(id), C, 'cluster_name'), 'demo');
    mkdirSync(join(root(id), 'sys/kernel/dlm'), { recursive: true });
    wrote(id);
  }

  function readOnlyBackend(id: number): NativeBackend {
    const b = new NativeBackend({ root: root(id), fakeTree: true });
    return new Proxy(b, {
      get(t, p) {
        if (typeof p === 'string' && WRITERS.has(p)) {
          return (...args: unknown[]) => {
            writes.push(`n${id}: ${p} ${JSON.stringify(args[0])}`);
            throw new Error(`test: ${p} is not allowed beside dlm_controld`);
          };
        }
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }

  async function startTracking(id: number): Promise<TrackingDaemon> {
    const ue = new InjectedUevents();
    const d = new TrackingDaemon({
      backend: readOnlyBackend(id),
      membership: cluster.source(id),
      socketPath: sock(id),
      uevents: ue,
      findControld: () => (controldUp.get(id) ? { pid: 4000 + id, how: 'test' } : undefined),
      controldCheckMs: 20,
      membersPollMs: 20,
      log: () => undefined,
    });
    const evs: GroupEvent[] = [];
    const log: LogEntry[] = [];
    d.on('group', (g) => evs.push(g));
    d.on('log', (e) => log.push(e));
    groupEvents.set(id, evs);
    logs.set(id, log);
    uevents.set(id, ue);
    await d.start();
    tracking.set(id, d);
    return d;
  }
  const groupsOf = async (id: number) => (await request(sock(id), 'groups')) as { uuid: string; nodes: number[]; state: string }[];
  const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'o2d-tracking-'));
    cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, name: `n${i}`, addr: `192.0.2.${i}` })) });
    for (const id of [1, 2]) controldConfigured(id);
    // n1 had joined OLD before its tracking daemon started
    kernelOnline(1, OLD, false);
    controldMembers(1, OLD, [1]);
    for (const id of [1, 2]) await startTracking(id);
    mkdirSync(join(root(3), 'sys/kernel/config/dlm'), { recursive: true });
    standalone = new DlmDaemon({
      backend: new NativeBackend({ root: root(3), fakeTree: true }),
      clusterName: 'demo',
      nodes: [1, 2, 3].map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] })),
      membership: cluster.source(3),
      groups: true,
      monitorPath: null,
      uevents: new InjectedUevents(),
      socketPath: null,
      log: () => undefined,
    });
    uevents.set(3, (standalone as unknown as { o: { uevents: InjectedUevents } }).o.uevents);
    await standalone.start();
  });

  after(async function () {
    for (const d of tracking.values()) await d.stop();
    await standalone?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start where no dlm_controld runs, before touching the membership', async function () {
    const m = StaticMembership.standalone({ localNodeId: 1, nodes: [1] });
    const d = new TrackingDaemon({ backend: readOnlyBackend(1), membership: m, socketPath: join(dir, 'refused.sock'), findControld: () => undefined, log: () => undefined });
    await assert.rejects(d.start(), (e: Error) => e instanceof DaemonRefusal && /dlm_controld is not running: the tracking mode runs only beside it/.test(e.message));
    await assert.rejects(m.send(DAEMON_GROUP, 'x'), /call start\(\) first/);
    assert.deepEqual(m.cluster.groupMembers(DAEMON_GROUP), []);
    assert.equal(existsSync(join(dir, 'refused.sock')), false);
  });

  it('at start: a lockspace dlm_controld had already joined (rescan) counts; the others learn it from the daemon group', async function () {
    await until(async () => sameJson(await groupsOf(2), [{ uuid: OLD, nodes: [1], state: 'not mounted here' }]), "n2's view of OLD");
    assert.deepEqual(await groupsOf(1), [{ uuid: OLD, nodes: [1], state: 'running' }]);
    await until(() => sameJson(standalone.groups(), [{ uuid: OLD, nodes: [1], state: 'not mounted here' }]), "the standalone daemon's view of OLD");
    const st = (await request(sock(1), 'status')) as Record<string, unknown>;
    assert.equal(st.mode, 'beside-dlm_controld');
    assert.deepEqual(st.dlmControld, { ...(st.dlmControld as object), pid: 4001, running: true });
    assert.equal(st.membership, 'static');
    assert.equal(st.localNodeId, 1);
    assert.equal(st.quorate, true);
    assert.deepEqual(st.nodes, [1, 2, 3]);
    assert.equal(st.cluster, 'demo');
    assert.deepEqual(st.daemonGroup, { joined: true, members: [1, 2, 3] });
    assertUntouched();
  });

  it('a mount seen by its online uevent counts once dlm_controld wrote this node into the members; both tracking daemons (and the standalone one) agree', async function () {
    kernelOnline(1, LS);
    await until(() => logs.get(1)!.some((l) => l.event === 'uevent-online' && l.ls === LS), "n1's online");
    await sleep(100);
    const joining = (await request(sock(1), 'lockspaces')) as { name: string; state: string; members: number[] }[];
    assert.deepEqual(joining.map((l) => [l.name, l.state, l.members]), [[OLD, 'running', [1]], [LS, 'joining', []]]);
    assert.ok(!(await groupsOf(2)).some((g) => g.uuid === LS), 'a join dlm_controld has not made yet was announced');
    controldMembers(1, LS, [1]);
    await until(async () => (await groupsOf(2)).some((g) => g.uuid === LS && sameJson(g.nodes, [1])), "n2 sees LS on n1");
    kernelOnline(2, LS);
    controldMembers(2, LS, [1, 2]);
    controldMembers(1, LS, [1, 2]);
    const want = (id: number) => [
      { uuid: OLD, nodes: [1], state: id === 1 ? 'running' : 'not mounted here' },
      { uuid: LS, nodes: [1, 2], state: 'running' },
    ];
    for (const id of [1, 2]) await until(async () => sameJson(await groupsOf(id), want(id)), `n${id}'s groups`);
    await until(() => standalone.groups().some((g) => g.uuid === LS && sameJson(g.nodes, [1, 2])), "the standalone daemon's view of LS");
    for (const id of [1, 2]) assert.deepEqual(groupEvents.get(id)!.filter((g) => g.uuid === LS).at(-1), { uuid: LS, nodes: [1, 2], joined: [2], left: [] });
    const cli = await runCli(['groups', '--json', '--socket', sock(2)]);
    assert.equal(cli.code, 0, cli.err);
    assert.deepEqual(JSON.parse(cli.out), { groups: want(2) });
    const joined = logs.get(2)!.find((l) => l.event === 'joined' && l.ls === LS);
    assert.ok(joined && sameJson(joined.members, [1, 2]), 'no joined line on n2');
    assertUntouched();
  });

  it("the standalone daemon's volume (n3) is seen by the tracking daemons: the same daemon-group wire format", async function () {
    mkdirSync(join(root(3), 'sys/kernel/dlm', VOL3), { recursive: true });
    uevents.get(3)!.lockspace('online', VOL3);
    await until(() => existsSync(join(root(3), 'sys/kernel/dlm', VOL3, 'event_done')), 'the standalone daemon answered its join');
    for (const id of [1, 2]) await until(async () => (await groupsOf(id)).some((g) => g.uuid === VOL3 && sameJson(g.nodes, [3]) && g.state === 'not mounted here'), `n${id} sees VOL3 on n3`);
    assertUntouched();
  });

  it('control socket: node-down, node-up and fence-ack are refused (dlm_controld owns recovery); `lockspaces` and `dump` answer', async function () {
    await assert.rejects(request(sock(1), 'node-down 2'), /dlm_controld owns recovery here: dlm_controld \(pid 4001\) takes node deaths .*dlm_tool status/);
    await assert.rejects(request(sock(1), 'node-up 2'), /dlm_controld owns recovery here/);
    await assert.rejects(request(sock(2), 'fence-ack 1'), /dlm_controld owns recovery here: .*`dlm_tool fence_ack 1`/);
    const r = await runCli(['daemon-ctl', 'node-down', '2', '--socket', sock(1)]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /dlm_controld owns recovery/);
    const ls = (await request(sock(2), 'lockspaces')) as { name: string; state: string; members: number[] }[];
    assert.deepEqual(ls.map((l) => [l.name, l.state, l.members]), [[LS, 'running', [1, 2]]]);
    const dump = (await request(sock(1), 'dump 500')) as LogEntry[];
    assert.ok(dump.some((l) => l.event === 'ready'));
    assert.equal(((await request(sock(1), 'dump 2')) as LogEntry[]).length, 2);
    // a count that is no count is refused, not taken as "everything" (NaN, -5 and 0 were)
    for (const bad of ['abc', '-5', '0', '501', '1e3']) await assert.rejects(request(sock(1), `dump ${bad}`), /expected a count of log entries from 1 to 500/, bad);
    assertUntouched();
  });

  it('dlm_controld goes away on n1: said loudly, shown in status; a new join stays unanswered (no take-over) and is tracked once dlm_controld is back', async function () {
    controldUp.set(1, false);
    await until(() => logs.get(1)!.some((l) => l.event === 'dlm_controld-gone'), 'the loss logged');
    const gone = logs.get(1)!.find((l) => l.event === 'dlm_controld-gone')!;
    assert.equal(gone.level, 'error');
    assert.match(gone.msg, /DLM_CONTROLD IS GONE \(pid 4001\).*does NOT take over fs\/dlm/);
    const st = (await request(sock(1), 'status')) as { dlmControld: { running: boolean; pid: number }; counters: { controldLost: number } };
    assert.deepEqual([st.dlmControld.running, st.dlmControld.pid, st.counters.controldLost], [false, 4001, 1]);
    kernelOnline(1, HUNG);
    await sleep(300);
    assert.deepEqual(((await request(sock(1), 'lockspaces')) as { name: string; state: string }[]).find((l) => l.name === HUNG)?.state, 'joining');
    assert.equal(existsSync(join(root(1), 'sys/kernel/dlm', HUNG, 'event_done')), false, 'the join was answered by the tracking daemon');
    assertUntouched();
    controldUp.set(1, true);
    await until(() => logs.get(1)!.some((l) => l.event === 'dlm_controld-back'), 'dlm_controld back');
    controldMembers(1, HUNG, [1]);
    await until(async () => (await groupsOf(2)).some((g) => g.uuid === HUNG && sameJson(g.nodes, [1])), 'n2 sees the join dlm_controld made after its return');
    kernelOffline(1, HUNG);
    await until(async () => !(await groupsOf(2)).some((g) => g.uuid === HUNG), 'n2 sees it unmounted');
    assertUntouched();
  });

  it('n2 unmounts LS (offline): n2 drops it; n1 shows members 1 once its dlm_controld rewrote them', async function () {
    kernelOffline(2, LS);
    controldMembers(1, LS, [1]);
    for (const id of [1, 2]) await until(async () => (await groupsOf(id)).some((g) => g.uuid === LS && sameJson(g.nodes, [1]) && g.state === (id === 1 ? 'running' : 'not mounted here')), `n${id}: LS on node 1 only`);
    assert.deepEqual(groupEvents.get(1)!.filter((g) => g.uuid === LS).at(-1), { uuid: LS, nodes: [1], joined: [], left: [2] });
    assert.ok(logs.get(2)!.some((l) => l.event === 'left' && l.ls === LS && /offline/.test(l.msg)));
    assertUntouched();
  });

  it('a node leaving CPG drops its volumes: n3 dies, VOL3 is on no node for both tracking daemons', async function () {
    await cluster.nodeDown(3);
    for (const id of [1, 2]) {
      await until(() => groupEvents.get(id)!.some((g) => g.uuid === VOL3 && g.nodes.length === 0), `n${id}: VOL3 dropped`);
      assert.deepEqual(groupEvents.get(id)!.filter((g) => g.uuid === VOL3).at(-1), { uuid: VOL3, nodes: [], joined: [], left: [3] });
      assert.ok(!(await groupsOf(id)).some((g) => g.uuid === VOL3));
    }
    assertUntouched();
  });

  it('a lockspace missed by the uevents is found by the rescan after an overflow', async function () {
    kernelOnline(2, VOL2, false);
    controldMembers(2, VOL2, [2]);
    await sleep(100);
    assert.ok(!(await groupsOf(1)).some((g) => g.uuid === VOL2), 'seen without its uevent');
    uevents.get(2)!.emit('overflow', { count: 1, total: 1 });
    await until(async () => (await groupsOf(1)).some((g) => g.uuid === VOL2 && sameJson(g.nodes, [2])), 'n1 sees VOL2 after the rescan on n2');
    assertUntouched();
  });

  it("stop (SIGTERM) leaves the daemon group: the peer drops the stopped node's volumes at once; a restart rescans and announces again", async function () {
    await tracking.get(2)!.stop();
    tracking.delete(2);
    await until(() => logs.get(1)!.some((l) => l.event === 'daemon-group' && /node 2 left \(leave\)/.test(l.msg)), 'n1 sees n2 leave the daemon group');
    assert.deepEqual(cluster.groupMembers(DAEMON_GROUP).map((m) => m.nodeid), [1]);
    assert.ok(logs.get(2)!.some((l) => l.event === 'group-leave'));
    assert.equal(existsSync(sock(2)), false, 'the control socket is removed');
    await until(async () => !(await groupsOf(1)).some((g) => g.uuid === VOL2), 'VOL2 gone from n1 with its daemon');
    await startTracking(2);
    await until(async () => (await groupsOf(1)).some((g) => g.uuid === VOL2 && sameJson(g.nodes, [2])), 'VOL2 back on n1 after the restart');
    const ls = (await request(sock(2), 'lockspaces')) as { name: string; state: string; members: number[] }[];
    assert.deepEqual(ls.map((l) => [l.name, l.state, l.members]), [[VOL2, 'running', [2]]]);
    assertUntouched();
  });

  it("n2 dies (CPG nodedown): n1 drops n2's volume at once; the shared one shows [1] after n1's dlm_controld removed n2", async function () {
    kernelOnline(2, LS);
    controldMembers(2, LS, [1, 2]);
    controldMembers(1, LS, [1, 2]);
    await until(async () => (await groupsOf(1)).some((g) => g.uuid === LS && sameJson(g.nodes, [1, 2])), 'LS on both again');
    await cluster.nodeDown(2);
    await until(async () => !(await groupsOf(1)).some((g) => g.uuid === VOL2), 'VOL2 dropped on n1');
    // dlm_controld recovers the lockspace (fencing...) before it rewrites the members: until then, [1,2]
    assert.ok((await groupsOf(1)).some((g) => g.uuid === LS && sameJson(g.nodes, [1, 2])));
    controldMembers(1, LS, [1]);
    await until(async () => sameJson(await groupsOf(1), [{ uuid: OLD, nodes: [1], state: 'running' }, { uuid: LS, nodes: [1], state: 'running' }]), "n1's groups after n2's death");
    assert.deepEqual(groupEvents.get(1)!.filter((g) => g.uuid === LS).at(-1), { uuid: LS, nodes: [1], joined: [], left: [2] });
    assertUntouched();
  });
});

describe('o2stack daemon: which daemon runs (dlm_controld running or not)', function () {
  const controld = { pid: 321, how: '/proc/321/comm' };
  it('no dlm_controld: the standalone daemon, as before; dlm_controld running: tracking beside it', function () {
    assert.equal(daemonMode({ controld: undefined, standalone: false, membership: 'corosync', legacy: false }), 'standalone');
    assert.equal(daemonMode({ controld: undefined, standalone: true, membership: 'static', legacy: false }), 'standalone');
    assert.equal(daemonMode({ controld, standalone: false, membership: 'corosync', legacy: false }), 'beside-dlm_controld');
  });

  it('dlm_controld running with --standalone (or --legacy): refused with the fix; with static membership: refused, saying why', function () {
    assert.throws(
      () => daemonMode({ controld, standalone: true, membership: 'corosync', legacy: false }),
      (e: Error & { exitCode?: number; hint?: string }) =>
        /dlm_controld is running \(pid 321, seen in \/proc\/321\/comm\): fs\/dlm is left to it, --standalone does not start beside it/.test(e.message) && e.exitCode === 1 && /systemctl stop dlm/.test(e.hint ?? '') && /drop --standalone/.test(e.hint ?? ''),
    );
    assert.throws(() => daemonMode({ controld, standalone: false, membership: 'corosync', legacy: true }), /--legacy does not start beside it/);
    assert.throws(
      () => daemonMode({ controld, standalone: false, membership: 'static', legacy: false }),
      (e: Error & { exitCode?: number; hint?: string }) => /a static members list makes no sense there/.test(e.message) && e.exitCode === 1 && /drop --membership static/.test(e.hint ?? ''),
    );
  });
});
