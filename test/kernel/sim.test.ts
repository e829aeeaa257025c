import assert from 'node:assert/strict';
import { SimBackend } from '../../lib/kernel/sim.js';
import { defineO2nmContract } from '../contract/o2nm.contract.js';

defineO2nmContract('simulator', () => new SimBackend());

describe('SimBackend specifics', function () {
  it('reports ENOENT everywhere when the modules are not loaded', function () {
    const b = new SimBackend({ loaded: false });
    assert.equal(b.tryList('/sys/kernel/config/cluster'), undefined);
    assert.throws(() => b.mkdir('/sys/kernel/config/cluster/x'), { code: 'ENOENT' });
  });

  it('refuses local on an address that is not on the host (EADDRNOTAVAIL)', function () {
    const b = new SimBackend({ hostAddresses: ['192.0.2.1'] });
    const C = '/sys/kernel/config/cluster/c';
    b.mkdir(C);
    b.mkdir(`${C}/node/a`);
    b.write(`${C}/node/a/ipv4_port`, '7777\n');
    b.write(`${C}/node/a/ipv4_address`, '192.0.2.9\n');
    b.write(`${C}/node/a/num`, '1\n');
    assert.throws(() => b.write(`${C}/node/a/local`, '1\n'), { code: 'EADDRNOTAVAIL' });
  });

  it('pins connected nodes and the local node while heartbeat runs', function () {
    const b = new SimBackend();
    const C = '/sys/kernel/config/cluster/c';
    b.mkdir(C);
    for (const [n, i] of [['a', 1], ['b', 2]] as const) {
      b.mkdir(`${C}/node/${n}`);
      b.write(`${C}/node/${n}/ipv4_port`, '7777\n');
      b.write(`${C}/node/${n}/ipv4_address`, `192.0.2.${i}\n`);
      b.write(`${C}/node/${n}/num`, `${i}\n`);
    }
    b.write(`${C}/node/a/local`, '1\n');
    const R = `${C}/heartbeat/0123456789ABCDEF0123456789ABCDEF`;
    b.mkdir(R);
    b.batch([
      { op: 'write', path: `${R}/block_bytes`, data: '512\n' },
      { op: 'write', path: `${R}/start_block`, data: '100\n' },
      { op: 'write', path: `${R}/blocks`, data: '255\n' },
      { op: 'writefd', path: `${R}/dev`, device: '/dev/vdb' },
    ]);
    assert.equal(b.read(`${R}/dev`), 'vdb\n');
    assert.throws(() => b.rmdir(`${C}/node/a`), { code: 'EBUSY' });
    b.connected.add('b');
    assert.throws(() => b.rmdir(`${C}/node/b`), { code: 'EBUSY' });
    assert.throws(() => b.write(`${C}/idle_timeout_ms`, '40000\n'), { code: 'EINVAL' });
  });
});
