// The daemon in legacy WITH_CONTROLD mode (recover_callbacks 0): two daemons in one process on
// fake kernel trees, their membership from a StaticCluster hub (lockspace groups), lockspace
// uevents injected, and /dev/ocfs2_control simulated per node by ControlKernelSim (the kernel's
// handshake states, its connections = the volumes mounted there, DOWN routing, and the crash or
// reboot it would cause) behind a ControlIo that records every write.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlIo } from '../../lib/kernel/control.js';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { DaemonRefusal, DlmDaemon, type DaemonOptions, type LogEntry } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../../lib/stack/membership/static.js';
import { ControlKernelSim } from '../support/fakeControl.js';
import { until as untilBounded } from '../support/until.js';

const A = 'A1000000000000000000000000000001';
const B = 'B2000000000000000000000000000002';
const C = 'C3000000000000000000000000000003';
const CFG = 'sys/kernel/config/dlm/cluster';
const safeKernel = { release: '6.1.0-test', readFile: (p: string) => (p === '/boot/config-6.1.0-test' ? Buffer.from('CONFIG_OCFS2_FS=m\n# CONFIG_FORTIFY_SOURCE is not set\n') : undefined) };

/** The shared until, with a longer default: legacy runs wait for DOWN writes too. */
const until = (cond: () => boolean, what: string, ms = 8000) => untilBounded(cond, what, ms);

/** One node's kernel side: its fake tree, its control device, its mount table. */
class Node {
  readonly kernel = new ControlKernelSim();
  /** every write on /dev/ocfs2_control, as text */
  readonly writes: string[] = [];
  /** at each DOWN: the lockspace's sysfs control as the daemon had left it */
  readonly controlAtDown: string[] = [];
  /** at each DOWN: every lockspace's state in the daemon's model ("uuid state") */
  readonly modelAtDown: string[][] = [];
  readonly mounts = new Set<string>();
  readonly logs: LogEntry[] = [];
  opens = 0;
  /** the volume whose DOWN the device refuses (EIO) */
  failDownFor: string | undefined;
  readonly ue = new InjectedUevents();
  daemon!: DlmDaemon;
  constructor(
    readonly id: number,
    readonly root: string,
  ) {
    mkdirSync(join(root, 'sys/kernel/config/dlm'), { recursive: true });
  }

  read(p: string): string | undefined {
    try {
      return readFileSync(join(this.root, p), 'utf8');
    } catch {
      return undefined;
    }
  }

  members(ls: string): number[] {
    const p = join(this.root, CFG, 'spaces', ls, 'nodes');
    return existsSync(p) ? readdirSync(p).map(Number).sort((a, b) => a - b) : [];
  }

  procMounts(): string {
    return [...this.mounts].map((ls) => `/dev/vd${ls[0]!.toLowerCase()} /mnt/${ls.slice(0, 2)} ocfs2 rw,relatime,cluster_stack=pcmk 0 0\n`).join('');
  }

  openIo(): ControlIo {
    this.opens++;
    const io = this.kernel.open();
    return {
      path: io.path,
      get fd() {
        return io.fd;
      },
      read: (n) => io.read(n),
      write: (data) => {
        const text = data.toString('latin1');
        this.writes.push(text);
        if (text.startsWith('DOWN ')) {
          this.controlAtDown.push(this.read(`sys/kernel/dlm/${text.slice(5, 37)}/control`) ?? '(none)');
          this.modelAtDown.push(this.daemon?.model.snapshot().lockspaces.map((l) => `${l.name} ${l.state}`) ?? []);
          if (this.failDownFor === text.slice(5, 37)) throw Object.assign(new Error('EIO: write'), { code: 'EIO', errno: -5, syscall: 'write', path: io.path });
        }
        return io.write(data);
      },
      close: () => io.close(),
    };
  }

  options(over: Partial<DaemonOptions> = {}): DaemonOptions {
    return {
      backend: new NativeBackend({ root: this.root, fakeTree: true }),
      clusterName: 'demo',
      nodes: [1, 2, 3].map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] })),
      membership: undefined as never,
      groups: true,
      monitorPath: null,
      uevents: this.ue,
      socketPath: null,
      joinTimeoutMs: 3000,
      legacy: true,
      control: { openIo: () => this.openIo(), mounts: () => this.procMounts() },
      downHazard: safeKernel,
      log: (l) => this.logs.push(JSON.parse(l) as LogEntry),
      ...over,
    };
  }

  /** The kernel makes the volume's lockspace and waits for the join; then ocfs2 connects (mounted). */
  async mount(ls: string): Promise<void> {
    mkdirSync(join(this.root, 'sys/kernel/dlm', ls), { recursive: true });
    rmSync(join(this.root, 'sys/kernel/dlm', ls, 'event_done'), { force: true });
    this.ue.lockspace('online', ls);
    await until(() => this.read(`sys/kernel/dlm/${ls}/event_done`) === '0', `node ${this.id}: join of ${ls} answered`);
    this.kernel.connections.add(ls);
    this.mounts.add(ls);
  }

  /** The machine went down: nothing is mounted any more and its kernel state is gone. */
  reboot(): void {
    this.mounts.clear();
    this.kernel.connections.clear();
  }
}

describe('o2stack daemon, legacy mode (recover_callbacks 0, DOWN on /dev/ocfs2_control)', function () {
  this.timeout(30000);
  let dir: string;
  let cluster: StaticCluster;
  const nodes = new Map<number, Node>();
  const fenceLog = () => (existsSync(join(dir, 'fence.log')) ? readFileSync(join(dir, 'fence.log'), 'utf8') : '');
  const fenceRounds = () => (fenceLog().match(/node=2\n/g) ?? []).length;
  /** the fence agent waits for the test's verdict (exit status in the file 'verdict') */
  const verdict = (code: number) => {
    writeFileSync(join(dir, 'verdict.tmp'), String(code));
    renameSync(join(dir, 'verdict.tmp'), join(dir, 'verdict'));
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'o2d-legacy-'));
    writeFileSync(
      join(dir, 'fence.sh'),
      `#!/bin/sh\ncat >> ${join(dir, 'fence.log')}\nwhile [ ! -e ${join(dir, 'verdict')} ]; do sleep 0.02; done\nv=$(cat ${join(dir, 'verdict')}); rm -f ${join(dir, 'verdict')}\nexit $v\n`,
    );
    chmodSync(join(dir, 'fence.sh'), 0o755);
    // three nodes, daemons on 1 and 2: node 3 keeps the quorum when node 2 dies
    cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, name: `n${i}`, addr: `192.0.2.${i}` })) });
    for (const id of [1, 2]) {
      const n = new Node(id, join(dir, `n${id}`));
      n.daemon = new DlmDaemon(n.options({ membership: cluster.source(id), fenceAgent: join(dir, 'fence.sh'), fenceTimeoutMs: 20000, maxFenceRounds: 3, fenceRetryDelayMs: 50 }));
      await n.daemon.start();
      nodes.set(id, n);
    }
  });

  after(async function () {
    for (const n of nodes.values()) {
      n.reboot();
      await n.daemon.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('start: the control device is handshaken (T01, SETN this node, SETV 1.0) and held; recover_callbacks 0', function () {
    for (const [id, n] of nodes) {
      assert.deepEqual(n.writes, ['T01\n', `SETN 0000000${id}\n`, 'SETV 01 00\n']);
      assert.equal(n.kernel.opened, 1, 'one VALID handle');
      assert.equal(n.kernel.thisNode, id);
      assert.equal(n.read(`${CFG}/recover_callbacks`), '0');
      assert.deepEqual((n.daemon.status() as { legacy: unknown }).legacy, { controlDevice: n.kernel.path, state: 'valid', downs: 0 });
    }
  });

  it('node 2 dies with 2 volumes shared: no DOWN while fencing runs or after it failed; after it succeeded, DOWN for those 2 in UUID order, then the restarts', async function () {
    const [n1, n2] = [nodes.get(1)!, nodes.get(2)!];
    // n1 has A alone, and C and B with n2 (mounted in that order: the DOWNs come sorted anyway)
    for (const ls of [A, C, B]) await n1.mount(ls);
    await n2.mount(C);
    await n2.mount(B);
    await until(() => [B, C].every((ls) => n1.members(ls).join() === '1,2' && n1.read(`sys/kernel/dlm/${ls}/control`) === '1'), 'n1 runs B and C with n2');

    await cluster.nodeDown(2);
    n2.reboot();
    await until(() => fenceRounds() === 1, 'the first fence round');
    assert.deepEqual(n1.writes.slice(3), [], 'no DOWN while the fence runs');
    for (const ls of [B, C]) assert.equal(n1.read(`sys/kernel/dlm/${ls}/control`), '0', `${ls} stopped`);
    verdict(1);
    await until(() => fenceRounds() === 2, 'the fence retried after its failure');
    assert.deepEqual(n1.writes.slice(3), [], 'no DOWN after a failed fence');
    assert.ok(n1.logs.some((l) => l.event === 'fence-result' && l.ok === false));
    verdict(0);
    await until(() => n1.writes.length === 5, 'two DOWNs');
    assert.deepEqual(n1.writes.slice(3), [`DOWN ${B} 00000002\n`, `DOWN ${C} 00000002\n`]);
    assert.deepEqual(n1.kernel.downs, [[B, 2], [C, 2]], 'the kernel routed both to their volumes');
    assert.deepEqual(n1.controlAtDown, ['0', '0'], 'each DOWN written while its lockspace was still stopped');
    await until(() => [B, C].every((ls) => n1.members(ls).join() === '1' && n1.read(`sys/kernel/dlm/${ls}/control`) === '1'), 'B and C restarted without n2');
    assert.equal(existsSync(join(n1.root, CFG, 'comms/2')), false, "n2's comm removed");
    assert.equal(n1.kernel.crashed, undefined);
    assert.equal(n1.writes.length, 5, 'nothing else written: not for A, not again');
    assert.deepEqual(n1.logs.filter((l) => l.event === 'down').map((l) => [l.uuid, l.nodeid]), [[B, 2], [C, 2]]);
    assert.deepEqual((n1.daemon.status() as { legacy: { downs: number } }).legacy.downs, 2);
  });

  it('stop while user-stack volumes are mounted: refused, the handle stays VALID and the daemon keeps serving; after the unmounts it closes', async function () {
    const n1 = nodes.get(1)!;
    assert.equal(await n1.daemon.stop(), false);
    assert.equal(n1.kernel.opened, 1, 'still VALID');
    assert.equal(n1.kernel.crashed, undefined, 'no emergency restart');
    const refused = n1.logs.find((l) => l.event === 'stop-refused');
    assert.match(refused?.msg ?? '', /not stopping: refusing to close .*user-stack ocfs2 volumes are mounted \(\/mnt\/A1, \/mnt\/C3, \/mnt\/B2\).*unmount the user-stack volumes/);
    // still answering the kernel
    await n1.mount('D4000000000000000000000000000004');
    n1.reboot();
    assert.equal(await n1.daemon.stop(), true);
    assert.equal(n1.kernel.opened, 0, 'closed');
    assert.equal(n1.kernel.thisNode, -1);
    assert.equal(n1.kernel.crashed, undefined);
    assert.ok(n1.logs.some((l) => l.event === 'control-device' && /closed/.test(l.msg)));
  });
});

describe('o2stack daemon, legacy mode: refusals and a DOWN that fails', function () {
  this.timeout(20000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'o2d-legacy1-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const standalone = () => new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, addr: `192.0.2.${i}` })) }).source(1);

  it('a kernel where DOWN crashes (FORTIFY_SOURCE, or its config unknown): refused with the reason, nothing opened or written', async function () {
    for (const readFile of [(p: string) => (p.startsWith('/boot/config-') ? Buffer.from('CONFIG_FORTIFY_SOURCE=y\n') : undefined), () => undefined]) {
      const n = new Node(1, join(dir, `n${Math.random()}`));
      const d = new DlmDaemon(n.options({ membership: standalone(), downHazard: { release: '6.1.0-test', readFile } }));
      await assert.rejects(d.start(), (e: Error) => {
        assert.ok(e instanceof DaemonRefusal);
        assert.match(e.message, /^legacy mode \(recover_callbacks 0\) refused on this kernel: node death would have to be sent as DOWN on \/dev\/ocfs2_control, and (CONFIG_FORTIFY_SOURCE=y in \/boot\/config-6\.1\.0-test|the kernel config of 6\.1\.0-test was not found).*__fortify_strlen.*\. Use the dlm recovery callbacks instead: run `o2stack daemon` without --legacy \(it writes recover_callbacks 1/);
        return true;
      });
      assert.equal(n.opens, 0, 'the control device was not opened');
      assert.equal(existsSync(join(n.root, CFG)), false, 'configfs untouched');
      await d.stop();
    }
  });

  it('user-stack volumes already mounted: refused before the handshake; a missing device: refused with the fix', async function () {
    const n = new Node(1, join(dir, 'n1'));
    n.mounts.add(A);
    const d = new DlmDaemon(n.options({ membership: standalone() }));
    await assert.rejects(d.start(), /legacy mode refused: user-stack ocfs2 volumes are mounted \(\/mnt\/A1\);.*Unmount them first/);
    assert.equal(n.opens, 0);
    await d.stop();
    const m = new Node(1, join(dir, 'n1b'));
    const enoent = Object.assign(new Error("ENOENT: open '/dev/ocfs2_control'"), { code: 'ENOENT', errno: -2, syscall: 'open', path: '/dev/ocfs2_control' });
    const d2 = new DlmDaemon(m.options({ membership: standalone(), control: { openIo: () => { throw enoent; }, mounts: () => '' } }));
    await assert.rejects(d2.start(), (e: Error) => {
      assert.ok(e instanceof DaemonRefusal);
      assert.match(e.message, /handshake for node 1 failed: .*ENOENT.*modprobe ocfs2_stack_user/);
      return true;
    });
    await d2.stop();
  });

  it("a DOWN the device refuses: logged, that volume never starts again here (its dead node's locks are not handed out); the others recover", async function () {
    const cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, addr: `192.0.2.${i}` })) });
    const n = new Node(1, join(dir, 'n1'));
    writeFileSync(join(dir, 'ok.sh'), '#!/bin/sh\ncat > /dev/null\n');
    chmodSync(join(dir, 'ok.sh'), 0o755);
    // static membership: every volume has every node that is up
    n.daemon = new DlmDaemon(n.options({ membership: cluster.source(1), groups: false, fenceAgent: join(dir, 'ok.sh') }));
    await n.daemon.start();
    const control = (ls: string) => n.read(`sys/kernel/dlm/${ls}/control`);
    try {
      await n.mount(A);
      await n.mount(B);
      assert.deepEqual(n.members(A), [1, 2, 3]);
      n.failDownFor = A;
      await cluster.nodeDown(2);
      await until(() => n.writes.filter((w) => w.startsWith('DOWN')).length === 2 && control(B) === '1', 'both DOWNs tried, B restarted');
      const f = n.logs.find((l) => l.event === 'down-failed')!;
      assert.equal(f.level, 'error');
      assert.deepEqual([f.uuid, f.nodeid, f.code], [A, 2, 'EIO']);
      assert.match(f.msg, /DOWN A1000000000000000000000000000001 2 not sent: EIO.*journal is not replayed: the volume's lockspace stays stopped.*restart this machine/);
      assert.deepEqual(n.kernel.downs, [[B, 2]]);
      // while the DOWNs are written, both volumes wait for their results (nothing could read A as restarting)
      assert.deepEqual(n.modelAtDown[1], [`${A} stopped`, `${B} stopped`]);
      assert.equal(control(A), '0', 'A not restarted');
      assert.deepEqual(n.members(A), [1, 3], 'the rest of the recovery ran');
      assert.deepEqual(n.members(B), [1, 3]);
      const lsA = n.daemon.model.snapshot().lockspaces.find((l) => l.name === A)!;
      assert.equal(lsA.state, 'stopped');
      assert.match(lsA.waitingFor ?? '', /ocfs2 to learn that node 2 died \(DOWN failed: EIO\); it never will: restart this machine/);
      // later recoveries leave it stopped: node 3 dies (quorum lost), node 2 comes back, 3 is fenced
      n.failDownFor = undefined;
      await cluster.nodeDown(3);
      await until(() => control(B) === '0', 'B stopped for the death of node 3');
      await cluster.nodeUp(2);
      await until(() => control(B) === '1' && n.members(B).join() === '1', 'B restarted after node 3 was fenced');
      assert.deepEqual(n.kernel.downs, [[B, 2], [A, 3], [B, 3]]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(control(A), '0', 'A still stopped');
      assert.equal(n.kernel.crashed, undefined);
    } finally {
      n.reboot();
      await n.daemon.stop();
    }
  });
});
