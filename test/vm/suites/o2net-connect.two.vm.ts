// Two VMs (vm/run-two.sh: n1 = 192.0.2.1, n2 = 192.0.2.2 on a private link, NODE=1|2): both build
// the same two-node o2nm cluster through the addon and set `local` on their own node. Checked:
// the kernel's o2net listener is up on the node's own address, the peer's listener accepts a TCP
// connection over the link, and the peer's kernel names us by the o2nm node table when we connect
// (no heartbeat runs, so o2net turns the connection away, and says from which node it came).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { type AttrOp } from '../../../lib/kernel/backend.js';
import { readO2nmState } from '../../../lib/kernel/o2nm.js';
import { SYS_FS_O2CB, o2nm } from '../../../lib/model/paths.js';
import { realBackend, removeAllClusters, requireTestVm, waitFor } from '../support/kernel.js';

const C = 'vmnet';
const PORT = 7777;
const me = Number(process.env.NODE);
const peer = 3 - me;
const addr = (n: number) => `192.0.2.${n}`;
const CONN_LOGMASK = `${SYS_FS_O2CB}/logmask/CONN`;

function listening(ip: string, port: number): boolean {
  const want = `${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase()).reverse().join('')}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === want && f[3] === '0A';
    });
}

/** One TCP connect attempt from our o2nm address; resolves true on connect. */
function tryConnect(host: string, port: number, localAddress: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, localAddress });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

describe(`o2net between two VMs (this is n${me})`, function () {
  const k = realBackend();
  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (run by vm/run-two.sh), got ${process.env.NODE}`);
    removeAllClusters(k);
  });
  after(() => {
    k.write(CONN_LOGMASK, 'off');
    removeAllClusters(k);
  });

  it('builds the two-node cluster through the addon and reads it back', () => {
    // log o2net's connection decisions before the listener exists (it starts with `local`), so
    // no connect from the peer can arrive unlogged
    k.write(CONN_LOGMASK, 'allow');
    const ops: AttrOp[] = [
      { op: 'mkdir', path: o2nm.cluster(C) },
      // short timeouts, as a real two-node test cluster would use (keepalive before idle)
      { op: 'write', path: o2nm.clusterAttr(C, 'keepalive_delay_ms'), data: '2000' },
      { op: 'write', path: o2nm.clusterAttr(C, 'idle_timeout_ms'), data: '10000' },
    ];
    for (const n of [1, 2]) {
      ops.push(
        { op: 'mkdir', path: o2nm.node(C, `n${n}`) },
        { op: 'write', path: o2nm.nodeAttr(C, `n${n}`, 'ipv4_port'), data: String(PORT) },
        { op: 'write', path: o2nm.nodeAttr(C, `n${n}`, 'ipv4_address'), data: addr(n) },
        { op: 'write', path: o2nm.nodeAttr(C, `n${n}`, 'num'), data: String(n) },
      );
    }
    ops.push({ op: 'write', path: o2nm.nodeAttr(C, `n${me}`, 'local'), data: '1' });
    assert.equal(k.batch(ops).completed, ops.length);

    const state = readO2nmState(k);
    assert.equal(state.available, true);
    assert.equal(state.clusters.length, 1);
    const c = state.clusters[0]!;
    assert.equal(c.name, C);
    assert.equal(c.idleTimeoutMs, 10000);
    assert.equal(c.keepaliveDelayMs, 2000);
    const nodes = [...c.nodes].sort((a, b) => a.num - b.num);
    assert.deepEqual(nodes, [
      { name: 'n1', num: 1, ipv4Address: addr(1), ipv4Port: PORT, local: me === 1 },
      { name: 'n2', num: 2, ipv4Address: addr(2), ipv4Port: PORT, local: me === 2 },
    ]);
  });

  it(`listens on its own address ${addr(me)}:${PORT}`, () => {
    assert.ok(listening(addr(me), PORT), `no listener on ${addr(me)}:${PORT} in /proc/net/tcp`);
    assert.ok(!listening(addr(peer), PORT), 'the peer node is not local here');
  });

  it("the peer's o2net listener accepts a TCP connection over the private link", async () => {
    // the peer boots at about the same time: retry for up to 90 s
    let ok = false;
    const end = Date.now() + 90_000;
    while (!ok && Date.now() < end) {
      ok = await tryConnect(addr(peer), PORT, addr(me), 3000);
      if (!ok) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(ok, `no TCP connection to ${addr(peer)}:${PORT} within 90 s`);
  });

  it("the kernel names the peer from the o2nm node table when it connects to us", async () => {
    const dmesg = () => execFileSync('dmesg', { encoding: 'utf8' });
    const fromPeer = new RegExp(`connect[^\\n]*from node 'n${peer}'`, 'i');
    // Keep connecting to the peer while we wait: the peer logs our attempt only once its own
    // logmask is set, and our earlier connect (previous test) may have come before that. Once
    // we see the peer's attempt here, the peer has its logmask set (it set it before connecting),
    // so one more connect of ours after that is sure to be logged there.
    let lastPoke = 0;
    const seen = await waitFor(async () => {
      if (fromPeer.test(dmesg())) return true;
      if (Date.now() - lastPoke > 2000) {
        lastPoke = Date.now();
        await tryConnect(addr(peer), PORT, addr(me), 3000);
      }
      return false;
    }, 90_000, 500);
    await tryConnect(addr(peer), PORT, addr(me), 3000);
    const o2netLines = dmesg().split('\n').filter((l) => /o2net/.test(l)).slice(-10).join('\n');
    assert.ok(seen, `no o2net line about a connection from node 'n${peer}' within 90 s:\n${o2netLines}`);
    console.log(`      kernel: ${dmesg().split('\n').find((l) => fromPeer.test(l))?.trim()}`);
    assert.doesNotMatch(dmesg(), /connect from unknown node/, 'o2net did not know the peer address');
  });
});
