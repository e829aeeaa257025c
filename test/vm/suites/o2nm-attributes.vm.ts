// o2nm configfs on the real 6.1 kernel: the attribute write semantics the addon and the o2nm
// planner rely on (docs/kernel-interfaces.md#o2nm, #o2hb), exercised through NativeBackend.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { BatchError, type AttrOp } from '../../../lib/kernel/backend.js';
import { loadNative } from '../../../lib/kernel/native.js';
import { O2NM_ROOT, o2nm } from '../../../lib/model/paths.js';
import { expectCode, expectCodeAsync, realBackend, removeAllClusters, requireTestVm } from '../support/kernel.js';

const C = 'vmtest';
const attr = (a: 'idle_timeout_ms' | 'keepalive_delay_ms' | 'reconnect_delay_ms' | 'fence_method') => o2nm.clusterAttr(C, a);
const nodeAttr = (n: string, a: 'num' | 'ipv4_address' | 'ipv4_port' | 'local') => o2nm.nodeAttr(C, n, a);

/** Listening TCP sockets in /proc/net/tcp as "a.b.c.d:port". */
function listeners(): string[] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[3] === '0A')
    .map((f) => {
      const [hexIp, hexPort] = f[1]!.split(':') as [string, string];
      const ip = [3, 2, 1, 0].map((i) => parseInt(hexIp.slice(i * 2, i * 2 + 2), 16)).join('.');
      return `${ip}:${parseInt(hexPort, 16)}`;
    });
}

describe('o2nm attributes on the real kernel', function () {
  const k = realBackend();
  before(requireTestVm);
  beforeEach(() => {
    removeAllClusters(k);
    k.mkdir(o2nm.cluster(C));
  });
  afterEach(() => {
    removeAllClusters(k);
    assert.deepEqual(k.list(O2NM_ROOT), [], 'configfs cleaned up');
  });

  /** mkdir node/<name>, then port, address and num (the order the kernel requires). */
  function addNode(name: string, addr: string, num: number, port = 7777): void {
    k.mkdir(o2nm.node(C, name));
    k.write(nodeAttr(name, 'ipv4_port'), String(port));
    k.write(nodeAttr(name, 'ipv4_address'), addr);
    k.write(nodeAttr(name, 'num'), String(num));
  }

  it('creates the cluster with its default groups and default values', () => {
    const entries = k.list(o2nm.cluster(C)).map((e) => `${e.name}:${e.type}`).sort();
    assert.deepEqual(entries, ['fence_method:file', 'heartbeat:dir', 'idle_timeout_ms:file', 'keepalive_delay_ms:file',
      'node:dir', 'reconnect_delay_ms:file']);
    assert.equal(k.read(attr('idle_timeout_ms')), '30000\n');
    assert.equal(k.read(attr('keepalive_delay_ms')), '2000\n');
    assert.equal(k.read(attr('reconnect_delay_ms')), '2000\n');
    assert.equal(k.read(attr('fence_method')), 'reset\n');
  });

  it('stores a value with one exact write(2) and reports its byte count', () => {
    // configfs stores each write(2) separately: a split write of "12345" would store "1" and then "2345"
    assert.equal(loadNative().attr.writeAttr(attr('reconnect_delay_ms'), '12345'), 5);
    assert.equal(k.read(attr('reconnect_delay_ms')), '12345\n');
    k.write(attr('reconnect_delay_ms'), Buffer.from('4321'));
    assert.equal(k.read(attr('reconnect_delay_ms')), '4321\n');
  });

  it('accepts values with and without a trailing newline, and no other text right after the number', () => {
    k.write(attr('idle_timeout_ms'), '40000');
    assert.equal(k.read(attr('idle_timeout_ms')), '40000\n');
    k.write(attr('idle_timeout_ms'), '41000\n');
    assert.equal(k.read(attr('idle_timeout_ms')), '41000\n');
    expectCode(() => k.write(attr('idle_timeout_ms'), '42000 '), 'EINVAL');
    expectCode(() => k.write(attr('idle_timeout_ms'), '42000x'), 'EINVAL');
    assert.equal(k.read(attr('idle_timeout_ms')), '41000\n');
    // only the character after the number is checked: anything after a newline is ignored
    k.write(attr('idle_timeout_ms'), '43000\n\nxyz');
    assert.equal(k.read(attr('idle_timeout_ms')), '43000\n');
    // strtoul base 0: hex is accepted
    k.write(attr('idle_timeout_ms'), '0xafc8');
    assert.equal(k.read(attr('idle_timeout_ms')), '45000\n');
  });

  it('rejects a 0-byte write with EFAULT, naming the kernel path', () => {
    const e = expectCode(() => k.write(attr('idle_timeout_ms'), ''), 'EFAULT');
    assert.equal(e.syscall, 'write');
    assert.equal(e.path, attr('idle_timeout_ms'));
  });

  it('allows only one cluster: a second mkdir gives ENOSPC', () => {
    expectCode(() => k.mkdir(o2nm.cluster('other')), 'ENOSPC');
  });

  it('limits node names to 64 characters (ENAMETOOLONG)', () => {
    k.mkdir(o2nm.node(C, 'n'.repeat(64)));
    expectCode(() => k.mkdir(o2nm.node(C, 'n'.repeat(65))), 'ENAMETOOLONG');
  });

  it('makes ipv4_port, ipv4_address and num write-once (EBUSY on a second write)', () => {
    addNode('a', '10.0.0.1', 1);
    expectCode(() => k.write(nodeAttr('a', 'ipv4_port'), '7778'), 'EBUSY');
    expectCode(() => k.write(nodeAttr('a', 'ipv4_address'), '10.0.0.9'), 'EBUSY');
    expectCode(() => k.write(nodeAttr('a', 'num'), '2'), 'EBUSY');
    // the value a node already holds: the port is EBUSY too, but num and address are first
    // looked up in the cluster's tables, where this very node holds them: EEXIST
    expectCode(() => k.write(nodeAttr('a', 'ipv4_port'), '7777'), 'EBUSY');
    expectCode(() => k.write(nodeAttr('a', 'num'), '1'), 'EEXIST');
    expectCode(() => k.write(nodeAttr('a', 'ipv4_address'), '10.0.0.1'), 'EEXIST');
    assert.equal(k.read(nodeAttr('a', 'ipv4_port')), '7777\n');
    assert.equal(k.read(nodeAttr('a', 'ipv4_address')), '10.0.0.1\n');
    assert.equal(k.read(nodeAttr('a', 'num')), '1\n');
  });

  it('checks the port range: 0 is EINVAL, 65535 is ERANGE', () => {
    k.mkdir(o2nm.node(C, 'a'));
    expectCode(() => k.write(nodeAttr('a', 'ipv4_port'), '0'), 'EINVAL');
    expectCode(() => k.write(nodeAttr('a', 'ipv4_port'), '65535'), 'ERANGE');
    k.write(nodeAttr('a', 'ipv4_port'), '65534');
    assert.equal(k.read(nodeAttr('a', 'ipv4_port')), '65534\n');
  });

  it('needs address and port before num (EINVAL), and num below 255 (ERANGE)', () => {
    k.mkdir(o2nm.node(C, 'a'));
    expectCode(() => k.write(nodeAttr('a', 'num'), '1'), 'EINVAL');
    k.write(nodeAttr('a', 'ipv4_port'), '7777');
    expectCode(() => k.write(nodeAttr('a', 'num'), '1'), 'EINVAL');
    k.write(nodeAttr('a', 'ipv4_address'), '10.0.0.1');
    expectCode(() => k.write(nodeAttr('a', 'num'), '255'), 'ERANGE');
    k.write(nodeAttr('a', 'num'), '254');
    assert.equal(k.read(nodeAttr('a', 'num')), '254\n');
  });

  it('needs address, port and num before local (EINVAL)', () => {
    k.mkdir(o2nm.node(C, 'a'));
    expectCode(() => k.write(nodeAttr('a', 'local'), '1'), 'EINVAL');
    k.write(nodeAttr('a', 'ipv4_port'), '7777');
    k.write(nodeAttr('a', 'ipv4_address'), '127.0.0.1');
    expectCode(() => k.write(nodeAttr('a', 'local'), '1'), 'EINVAL');
    assert.equal(k.read(nodeAttr('a', 'local')), '0\n');
  });

  it('refuses a duplicate address and a duplicate num with EEXIST', () => {
    addNode('a', '10.0.0.1', 1);
    k.mkdir(o2nm.node(C, 'b'));
    k.write(nodeAttr('b', 'ipv4_port'), '7777');
    expectCode(() => k.write(nodeAttr('b', 'ipv4_address'), '10.0.0.1'), 'EEXIST');
    k.write(nodeAttr('b', 'ipv4_address'), '10.0.0.2');
    expectCode(() => k.write(nodeAttr('b', 'num'), '1'), 'EEXIST');
    k.write(nodeAttr('b', 'num'), '2');
    assert.equal(k.read(nodeAttr('b', 'num')), '2\n');
  });

  it('starts the o2net listener on local=1 and stops it on local=0', () => {
    addNode('me', '127.0.0.1', 3, 7779);
    assert.ok(!listeners().includes('127.0.0.1:7779'), 'nothing listens before local=1');
    k.write(nodeAttr('me', 'local'), '1');
    assert.equal(k.read(nodeAttr('me', 'local')), '1\n');
    assert.ok(listeners().includes('127.0.0.1:7779'), `listeners: ${listeners().join(' ')}`);
    addNode('other', '127.0.0.2', 4, 7779);
    expectCode(() => k.write(nodeAttr('other', 'local'), '1'), 'EBUSY');
    k.write(nodeAttr('me', 'local'), '0');
    assert.ok(!listeners().includes('127.0.0.1:7779'), `listeners: ${listeners().join(' ')}`);
  });

  it('needs the trailing newline for fence_method', () => {
    expectCode(() => k.write(attr('fence_method'), 'panic'), 'EINVAL');
    assert.equal(k.read(attr('fence_method')), 'reset\n');
    k.write(attr('fence_method'), 'panic\n');
    assert.equal(k.read(attr('fence_method')), 'panic\n');
    k.write(attr('fence_method'), 'RESET\n');
    assert.equal(k.read(attr('fence_method')), 'reset\n');
  });

  it('keeps idle_timeout_ms above keepalive_delay_ms (EINVAL otherwise)', () => {
    expectCode(() => k.write(attr('idle_timeout_ms'), '2000'), 'EINVAL');
    expectCode(() => k.write(attr('idle_timeout_ms'), '1999'), 'EINVAL');
    expectCode(() => k.write(attr('keepalive_delay_ms'), '30000'), 'EINVAL');
    expectCode(() => k.write(attr('idle_timeout_ms'), '0'), 'EINVAL');
    // lowering both: keepalive first, then idle
    k.write(attr('keepalive_delay_ms'), '1000');
    k.write(attr('idle_timeout_ms'), '2000');
    assert.equal(k.read(attr('idle_timeout_ms')), '2000\n');
    assert.equal(k.read(attr('keepalive_delay_ms')), '1000\n');
  });

  it('silently ignores heartbeat dead_threshold values of 2 or less (read back to check)', () => {
    const hb = o2nm.heartbeatAttr(C, 'dead_threshold');
    const before = k.read(hb);
    k.write(hb, '2'); // succeeds...
    assert.equal(k.read(hb), before); // ...and changes nothing
    k.write(hb, '0');
    assert.equal(k.read(hb), before);
    const next = before === '31\n' ? '29' : '31';
    k.write(hb, next);
    assert.equal(k.read(hb), `${next}\n`);
    k.write(hb, before);
    assert.equal(k.read(hb), before);
  });

  it('reports the failing step and the completed count when a batch fails mid-way', () => {
    const ops: AttrOp[] = [
      { op: 'mkdir', path: o2nm.node(C, 'a') },
      { op: 'write', path: nodeAttr('a', 'ipv4_port'), data: '7777' },
      { op: 'write', path: nodeAttr('a', 'num'), data: '1' }, // before the address: EINVAL
      { op: 'write', path: nodeAttr('a', 'ipv4_address'), data: '10.0.0.1' },
    ];
    let err: unknown;
    try {
      k.batch(ops);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof BatchError, `expected a BatchError, got ${String(err)}`);
    assert.equal(err.code, 'EINVAL');
    assert.equal(err.step, 2);
    assert.equal(err.completed, 2);
    assert.equal(err.failedOp.path, nodeAttr('a', 'num'));
    assert.equal(err.path, nodeAttr('a', 'num'));
    // the steps before it took effect, the ones after it did not run
    assert.equal(k.read(nodeAttr('a', 'ipv4_port')), '7777\n');
    assert.equal(k.read(nodeAttr('a', 'ipv4_address')), '0.0.0.0\n');
  });

  it('runs a whole node configuration with batchAsync, reads included', async () => {
    const r = await k.batchAsync([
      { op: 'write', path: attr('keepalive_delay_ms'), data: '2000' },
      { op: 'write', path: attr('idle_timeout_ms'), data: '10000' },
      { op: 'mkdir', path: o2nm.node(C, 'n1') },
      { op: 'write', path: nodeAttr('n1', 'ipv4_port'), data: '7777' },
      { op: 'write', path: nodeAttr('n1', 'ipv4_address'), data: '10.0.0.1' },
      { op: 'write', path: nodeAttr('n1', 'num'), data: '1' },
      { op: 'read', path: nodeAttr('n1', 'num') },
      { op: 'read', path: nodeAttr('n1', 'ipv4_address') },
      { op: 'read', path: attr('idle_timeout_ms') },
    ]);
    assert.equal(r.completed, 9);
    assert.deepEqual(r.reads.slice(6).map((b) => b?.toString()), ['1\n', '10.0.0.1\n', '10000\n']);
    assert.equal(r.reads[0], undefined);
    const err = await expectCodeAsync(k.batchAsync([
      { op: 'read', path: nodeAttr('n1', 'num') },
      { op: 'write', path: nodeAttr('n1', 'num'), data: '2' },
    ]), 'EBUSY');
    assert.ok(err instanceof BatchError);
    assert.equal(err.step, 1);
    assert.equal(err.completed, 1);
  });
});
