import assert from 'node:assert/strict';
import { heldUserStackLocks, parseMountInfo, parseProcLocks } from '../../lib/model/heldLocks.js';

// as Debian's 6.1 prints them (a user-stack ocfs2 volume on vda = 254:0, an o2cb one on vdb = 254:16)
const mountinfo = [
  '22 1 0:21 / / rw,relatime - tmpfs tmpfs rw',
  '40 22 254:0 / /mnt/shared rw,relatime shared:1 - ocfs2 /dev/vda rw,coherency=full,cluster_stack=pcmk',
  '41 22 254:16 / /mnt/my\\040disk rw,relatime - ocfs2 /dev/vdb rw,heartbeat=local,coherency=full',
  'garbage line',
].join('\n');
const locks = [
  '1: POSIX  ADVISORY  WRITE 1187 fe:00:1318 0 EOF',
  '1: -> POSIX  ADVISORY  WRITE 1190 fe:00:1318 0 EOF',
  '2: FLOCK  ADVISORY  WRITE 1188 fe:00:1319 0 EOF',
  '3: POSIX  ADVISORY  READ 1189 fe:10:77 10 19',
  '4: OFDLCK ADVISORY  READ -1 fe:00:1320 0 9',
  '5: POSIX  ADVISORY  READ 1191 fe:00:1321 100 199',
].join('\n');

describe('POSIX locks already held on user-stack volumes (/proc/locks, mountinfo)', function () {
  it('parses mountinfo (optional fields, escapes) and /proc/locks (hex device, EOF, waiters skipped)', function () {
    const mi = parseMountInfo(mountinfo);
    assert.equal(mi.length, 3);
    assert.deepEqual(mi[1], { dev: '254:0', dir: '/mnt/shared', fstype: 'ocfs2', source: '/dev/vda', superOptions: ['rw', 'coherency=full', 'cluster_stack=pcmk'] });
    assert.equal(mi[2]!.dir, '/mnt/my disk');
    const pl = parseProcLocks(locks);
    assert.equal(pl.length, 5, 'the blocked waiter line is not a held lock');
    assert.deepEqual(pl[0], { kind: 'POSIX', type: 'WRITE', pid: 1187, dev: '254:0', inode: 1318, start: 0, end: undefined });
    assert.deepEqual(pl[2], { kind: 'POSIX', type: 'READ', pid: 1189, dev: '254:16', inode: 77, start: 10, end: 19 });
  });

  it('keeps POSIX locks on user-stack mounts only (not flock, not o2cb volumes, not other filesystems)', function () {
    const held = heldUserStackLocks(locks, mountinfo);
    assert.deepEqual(held.map((l) => [l.pid, l.inode, l.dir]), [[1187, 1318, '/mnt/shared'], [1191, 1321, '/mnt/shared']]);
    assert.deepEqual(heldUserStackLocks('', mountinfo), []);
    assert.deepEqual(heldUserStackLocks(locks, ''), []);
  });
});
