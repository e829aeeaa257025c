// POSIX locks through three o2stack daemons in one process: each on its own fake kernel tree, a
// StaticCluster hub as membership (process groups and messages as CPG gives them), and its own
// plock device — a SOCK_SEQPACKET socketpair whose other end plays that node's kernel (requests in,
// answers out, 64-byte records as on /dev/dlm_plock). End to end: the native device, the daemon's
// routing, the replicated tables, the control socket and `o2stack plocks`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { encodePlockInfo, PlockDevice, plockSocketpairForTest, type PlockInfo, type PlockRequest } from '../../lib/kernel/plock.js';
import { loadNative, type NativePlockHandle } from '../../lib/kernel/native.js';
import { lockspaceId } from '../../lib/model/dlm.js';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import { DlmDaemon } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../../lib/stack/membership/static.js';
import { FakeDaemonCluster } from '../support/fakeDaemonCluster.js';
import { runCli } from '../support/runCli.js';
import { until } from '../support/until.js';

const LS = '5EC0ND0C4B1E4C0FA11D0E5A7A1B2C3D';
const EOF = 0x7fffffffffffffffn;


/** One node's kernel side of the plock device: sends requests, collects answers. */
class FakeKernel {
  readonly answers: PlockRequest[] = [];
  constructor(readonly dev: PlockDevice) {
    dev.on('requests', (a) => this.answers.push(...a));
    dev.on('error', () => undefined); // the daemon's side closed (it stopped)
  }
  ask(i: Partial<PlockInfo>): void {
    const rec: PlockInfo = { version: [1, 2, 0], optype: 1, ex: true, wait: false, flags: 0, pid: 1, nodeid: 0, rv: 0, fsid: lockspaceId(LS), number: 42n, start: 0n, end: EOF, owner: 1n, ...i };
    loadNative().plock!.write((this.dev as unknown as { handle: NativePlockHandle }).handle, encodePlockInfo(rec));
  }
  answer(pid: number): PlockRequest | undefined {
    return this.answers.find((a) => a.pid === pid);
  }
}

describe('o2stack daemon: cluster-wide POSIX locks (three daemons, one process, socketpair plock devices)', function () {
  this.timeout(20000);
  let f: FakeDaemonCluster;
  const daemons = new Map<number, DlmDaemon>();
  const kernels = new Map<number, FakeKernel>();
  const sock = (id: number) => f.socket(id);

  async function start(id: number): Promise<void> {
    const [daemonSide, kernelSide] = plockSocketpairForTest();
    daemons.set(id, await f.start(id, { plockDevice: { fd: daemonSide }, ...(process.env.DEBUG_PLOCKS ? { log: (l: string) => console.log(`n${id} ${l}`) } : {}) }));
    kernels.set(id, new FakeKernel(new PlockDevice({ fd: kernelSide })));
  }

  const tables = async () => Promise.all([1, 2, 3].filter((id) => daemons.has(id)).map(async (id) => JSON.stringify(await request(sock(id), `plocks ${LS}`))));

  before(async function () {
    f = new FakeDaemonCluster('o2d-plocks-');
    for (const id of [1, 2, 3]) await start(id);
    for (const id of [1, 2, 3]) f.mount(id, LS);
    await until(() => [1, 2, 3].every((id) => daemons.get(id)!.plocks.model.view(LS)[0]?.synced === true && daemons.get(id)!.plocks.model.view(LS)[0]!.members.length === 3), 'the lockspace group on all three, tables synced');
  });

  after(async function () {
    await f.close();
    for (const k of kernels.values()) k.dev.close();
  });

  it('n1 locks; n2 gets EAGAIN and F_GETLK names n1; n3 waits and is granted at n1\'s unlock; disjoint ranges never conflict', async function () {
    const [k1, k2, k3] = [kernels.get(1)!, kernels.get(2)!, kernels.get(3)!];
    k1.ask({ pid: 11, owner: 0x1001n, start: 100n, end: 199n });
    await until(() => k1.answer(11) !== undefined, "n1's lock answered");
    assert.equal(k1.answer(11)!.rv, 0);
    k2.ask({ pid: 21, owner: 0x2001n, start: 150n, end: 250n });
    k2.ask({ pid: 22, owner: 0x2001n, optype: 3, start: 150n, end: 250n, ex: false });
    k3.ask({ pid: 31, owner: 0x3001n, start: 120n, end: 130n, wait: true });
    k2.ask({ pid: 23, owner: 0x2002n, start: 300n, end: 399n });
    // F_GETLK's answer carries the holder's pid (the kernel reports it): found by its optype
    const getAnswer = () => k2.answers.find((a) => a.optype === 3);
    await until(() => k2.answer(21) !== undefined && getAnswer() !== undefined && k2.answer(23) !== undefined, "n2's answers");
    assert.equal(k2.answer(21)!.rv, -11, 'EAGAIN');
    const g = getAnswer()!;
    assert.deepEqual([g.rv, g.nodeid, g.pid, g.start, g.end, g.ex, g.owner], [1, 1, 11, 100n, 199n, true, 0x2001n], 'F_GETLK: n1 holds it (the owner stays the asker\'s: the kernel checks it)');
    assert.equal(k2.answer(23)!.rv, 0, 'a disjoint range is granted');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(k3.answer(31), undefined, 'n3 waits');
    const t = await tables();
    assert.equal(new Set(t).size, 1, `the same table on every node: ${t.join(' | ')}`);
    const [view] = JSON.parse(t[0]!) as { locks: unknown[]; waiters: { lock: { nodeid: number } }[] }[];
    assert.equal(view!.locks.length, 2);
    assert.deepEqual(view!.waiters.map((w) => w.lock.nodeid), [3]);
    k1.ask({ pid: 12, owner: 0x1001n, optype: 2, start: 100n, end: 199n });
    await until(() => k3.answer(31) !== undefined, "n3's waiter answered");
    assert.equal(k3.answer(31)!.rv, 0);
    assert.equal(k3.answer(31)!.wait, true);
    const text = await runCli(['plocks', LS, '--socket', sock(1)]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^  42 EX 120-130 nodeid 3 pid 31 owner 0x3001$/m);
    assert.match(text.out, /^  42 EX 300-399 nodeid 2 pid 23 owner 0x2002$/m);
    const json = await runCli(['plocks', LS, '--json', '--socket', sock(2)]);
    assert.equal((JSON.parse(json.out) as { plocks: { locks: unknown[] }[] }).plocks[0]!.locks.length, 2);
    const missing = await runCli(['plocks', 'NOSUCHVOLUME', '--socket', sock(2)]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no lockspace NOSUCHVOLUME/);
  });

  it('a waiter behind a node that dies is granted on the survivor; the dead node\'s locks are gone everywhere', async function () {
    const [k1, k3] = [kernels.get(1)!, kernels.get(3)!];
    k1.ask({ pid: 13, owner: 0x1002n, start: 125n, end: 125n, wait: true }); // behind n3's [120,130]
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(k1.answer(13), undefined);
    void k3;
    await f.cluster.nodeDown(3);
    daemons.get(3)!.stop().catch(() => undefined);
    daemons.delete(3);
    await until(() => k1.answer(13) !== undefined, "n1's waiter granted after n3's death");
    assert.equal(k1.answer(13)!.rv, 0);
    const t = await tables();
    assert.equal(new Set(t).size, 1);
    assert.ok(!t[0]!.includes('"nodeid":3'), t[0]);
  });

  it('stopping answers every pending request (-ENOLCK): nothing stays asleep in the kernel', async function () {
    const [k1, k2] = [kernels.get(1)!, kernels.get(2)!];
    k1.ask({ pid: 14, owner: 0x1003n, start: 1000n, end: 1000n });
    await until(() => k1.answer(14)?.rv === 0, 'n1 holds 1000');
    k2.ask({ pid: 24, owner: 0x2003n, start: 1000n, end: 1000n, wait: true });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(k2.answer(24), undefined);
    await daemons.get(2)!.stop();
    daemons.delete(2);
    await until(() => k2.answer(24) !== undefined, "n2's waiter answered at stop");
    assert.equal(k2.answer(24)!.rv, -37);
  });
});

describe('o2stack daemon: POSIX locks off (--no-plocks, static membership): ENOSYS at once', function () {
  this.timeout(20000);
  for (const how of ['--no-plocks', 'static membership'] as const) {
    it(`${how}: a blocking lock is answered -ENOSYS at once, and status says why`, async function () {
      const dir = mkdtempSync(join(tmpdir(), 'o2d-noplocks-'));
      const cluster = new StaticCluster({ nodes: [{ nodeid: 1, name: 'n1', addr: '192.0.2.1' }, { nodeid: 2, name: 'n2', addr: '192.0.2.2' }] });
      mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
      const [a, b] = plockSocketpairForTest();
      const d = new DlmDaemon({
        backend: new NativeBackend({ root: dir, fakeTree: true }),
        clusterName: 'demo',
        nodes: [1, 2].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })),
        membership: cluster.source(1),
        groups: how === '--no-plocks',
        plocks: how !== '--no-plocks',
        monitorPath: null,
        plockDevice: { fd: a },
        uevents: new InjectedUevents(),
        socketPath: null,
        log: () => undefined,
      });
      const k = new FakeKernel(new PlockDevice({ fd: b }));
      try {
        await d.start();
        k.ask({ pid: 5, wait: true });
        await until(() => k.answer(5) !== undefined, 'the answer');
        assert.equal(k.answer(5)!.rv, -38);
        const st = d.status() as { plocks: { mode: string; reason: string } };
        assert.equal(st.plocks.mode, 'off');
        assert.match(st.plocks.reason, how === '--no-plocks' ? /--no-plocks/ : /static membership/);
      } finally {
        await d.stop();
        k.dev.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('o2stack daemon started beside POSIX locks it did not grant (its predecessor was killed)', function () {
  it('says so as an error naming the pids, the mounts and the fix; nothing when there are none', async function () {
    for (const held of [true, false]) {
      const f = new FakeDaemonCluster('o2d-held-', [1]);
      const proc = join(f.root(1), 'proc/self');
      mkdirSync(proc, { recursive: true });
      writeFileSync(join(f.root(1), 'proc/self/mountinfo'), '40 22 254:0 / /mnt/shared rw,relatime - ocfs2 /dev/vda rw,coherency=full,cluster_stack=pcmk\n');
      writeFileSync(join(f.root(1), 'proc/locks'), held ? '1: POSIX  ADVISORY  WRITE 1187 fe:00:1318 0 EOF\n2: POSIX  ADVISORY  READ 1200 fe:00:1319 0 9\n' : '1: FLOCK  ADVISORY  WRITE 1187 fe:00:1318 0 EOF\n');
      const lines: string[] = [];
      const [daemonSide, kernelSide] = plockSocketpairForTest();
      const k = new FakeKernel(new PlockDevice({ fd: kernelSide }));
      try {
        await f.start(1, { plockDevice: { fd: daemonSide }, log: (l: string) => lines.push(l) });
        const err = lines.map((l) => JSON.parse(l) as { level: string; event: string; msg: string }).filter((e) => e.event === 'plocks-unknown');
        if (!held) {
          assert.deepEqual(err, []);
          continue;
        }
        assert.equal(err.length, 1, lines.join('\n'));
        assert.equal(err[0]!.level, 'error');
        assert.match(err[0]!.msg, /2 POSIX lock\(s\) on \/mnt\/shared were granted before this daemon started \(held by pid 1187, 1200\).*restart those programs/);
      } finally {
        await f.close();
        k.dev.close();
      }
    }
  });
});
