import assert from 'node:assert/strict';
import fc from 'fast-check';
import { commOps, dlmStartOps, failEventOps, joinOps, leaveOps, lockspaceId, memberDeathOps, sockaddrStorage } from '../../lib/model/dlm.js';

const C = '/sys/kernel/config/dlm/cluster';
const show = (ops: { op: string; path: string; data?: string | Buffer }[]) => ops.map((o) => `${o.op} ${o.path.replace(C, 'C').replace('/sys/kernel/dlm/', 'K/')}${typeof o.data === 'string' ? ` ${o.data}` : o.data ? ` <${o.data.length} bytes>` : ''}`);

describe('fs/dlm plans', function () {
  it('sockaddr_storage: 128 bytes, family in host order, address in network order', function () {
    const v4 = sockaddrStorage('192.0.2.7');
    assert.equal(v4.length, 128);
    assert.equal(v4.readUInt16LE(0), 2);
    assert.deepEqual([...v4.subarray(4, 8)], [192, 0, 2, 7]);
    assert.ok(v4.subarray(8).every((b) => b === 0));
    const v6 = sockaddrStorage('2001:db8::1');
    assert.equal(v6.readUInt16LE(0), 10);
    assert.equal(v6.subarray(8, 24).toString('hex'), '20010db8000000000000000000000001');
    assert.equal(sockaddrStorage('::ffff:192.0.2.1').subarray(8, 24).toString('hex'), '00000000000000000000ffffc0000201');
    assert.throws(() => sockaddrStorage('node1'), TypeError);
  });

  it('lockspace ids are stable, 32-bit and never 0', function () {
    assert.equal(lockspaceId('632A924FDD844190BDA93C0DF6B94899'), lockspaceId('632A924FDD844190BDA93C0DF6B94899'));
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 64 }), (n) => {
      const id = lockspaceId(n);
      return Number.isInteger(id) && id > 0 && id <= 0xffffffff;
    }));
  });

  it('start: cluster settings (cluster_name without newline), then each comm nodeid → local → addr', function () {
    const ops = dlmStartOps({ clusterName: 'demo', recoverCallbacks: true, localNodeId: 2, members: [{ nodeid: 1, addresses: ['192.0.2.1'] }, { nodeid: 2, addresses: ['192.0.2.2'] }] });
    assert.deepEqual(show(ops), [
      'mkdir C', 'write C/cluster_name demo', 'write C/recover_callbacks 1',
      'mkdir C/comms/1', 'write C/comms/1/nodeid 1', 'write C/comms/1/addr <128 bytes>',
      'mkdir C/comms/2', 'write C/comms/2/nodeid 2', 'write C/comms/2/local 1', 'write C/comms/2/addr <128 bytes>',
    ]);
    assert.throws(() => dlmStartOps({ clusterName: 'x', recoverCallbacks: true, localNodeId: 9, members: [{ nodeid: 1, addresses: ['192.0.2.1'] }] }), /local node 9 is not a member/);
    assert.throws(() => commOps({ nodeid: 1, addresses: [] }, false), /1 to 3 addresses/);
  });

  it('join: members before start, event_done last; failure answered with a negative errno; leave', function () {
    assert.deepEqual(show(joinOps('LS', [1, 2])), [
      'mkdir C/spaces/LS', 'mkdir C/spaces/LS/nodes/1', 'write C/spaces/LS/nodes/1/nodeid 1', 'mkdir C/spaces/LS/nodes/2', 'write C/spaces/LS/nodes/2/nodeid 2',
      `write K/LS/id ${lockspaceId('LS')}`, 'write K/LS/control 1', 'write K/LS/event_done 0',
    ]);
    assert.deepEqual(show(failEventOps('LS', 110)), ['write K/LS/event_done -110']);
    assert.deepEqual(show(leaveOps('LS', [1])), ['rmdir C/spaces/LS/nodes/1', 'rmdir C/spaces/LS', 'write K/LS/event_done 0']);
  });

  it('member death: stop every lockspace, then remove the comm (so ocfs2 recovers the slot) and the entries, start again', function () {
    const { stop, restart } = memberDeathOps(['A', 'B'], 2);
    assert.deepEqual(show(stop), ['write K/A/control 0', 'write K/B/control 0']);
    assert.deepEqual(show(restart), ['rmdir C/comms/2', 'rmdir C/spaces/A/nodes/2', 'rmdir C/spaces/B/nodes/2', 'write K/A/control 1', 'write K/B/control 1']);
  });
});
