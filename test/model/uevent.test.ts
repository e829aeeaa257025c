import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_UEVENT_BYTES,
  blockDeviceEvent,
  dlmLockspaceEvent,
  encodeLibudev,
  encodeUevent,
  isDlmOffline,
  isDlmOnline,
  parseUevent,
  type Uevent,
} from '../../lib/model/uevent.js';

const LS = '632A924FDD844190BDA93C0DF6B94899';

function ok(buf: Uint8Array): Uevent {
  const p = parseUevent(buf);
  if (p.malformed) assert.fail(`unexpected malformed: ${p.reason} ${p.detail}`);
  return p;
}

function bad(buf: Uint8Array): string {
  const p = parseUevent(buf);
  if (!p.malformed) assert.fail(`expected malformed, got ${JSON.stringify(p)}`);
  return p.reason;
}

describe('model/uevent parseUevent', function () {
  it('parses a kernel datagram exactly (the documented dlm online example)', function () {
    const raw = Buffer.from(
      `online@/kernel/dlm/${LS}\0ACTION=online\0DEVPATH=/kernel/dlm/${LS}\0SUBSYSTEM=dlm\0LOCKSPACE=${LS}\0SEQNUM=1234\0`,
    );
    const ev = ok(raw);
    assert.deepEqual(
      { ...ev, env: { ...ev.env } },
      {
        action: 'online',
        devpath: `/kernel/dlm/${LS}`,
        subsystem: 'dlm',
        seqnum: 1234,
        source: 'kernel',
        malformed: false,
        env: { ACTION: 'online', DEVPATH: `/kernel/dlm/${LS}`, SUBSYSTEM: 'dlm', LOCKSPACE: LS, SEQNUM: '1234' },
      },
    );
    assert.deepEqual(Object.keys(ev.env), ['ACTION', 'DEVPATH', 'SUBSYSTEM', 'LOCKSPACE', 'SEQNUM']);
  });

  it('parses a synthetic sysfs uevent with values containing "=" and spaces', function () {
    const ev = ok(Buffer.from('change@/devices/virtual/mem/null\0ACTION=change\0DEVPATH=/devices/virtual/mem/null\0SUBSYSTEM=mem\0SYNTH_ARG_X=a=b c\0SEQNUM=9\0'));
    assert.equal(ev.env.SYNTH_ARG_X, 'a=b c');
    assert.equal(ev.subsystem, 'mem');
    assert.equal(ev.seqnum, 9);
  });

  it('leaves subsystem and seqnum undefined when absent or not a number', function () {
    const ev = ok(Buffer.from('add@/x\0ACTION=add\0SEQNUM=12a\0'));
    assert.equal(ev.subsystem, undefined);
    assert.equal(ev.seqnum, undefined);
  });

  it('parses the libudev form (header, properties at properties_off)', function () {
    const raw = encodeLibudev({ ACTION: 'add', DEVPATH: '/devices/virtual/block/loop0', SUBSYSTEM: 'block', DEVNAME: '/dev/loop0', SEQNUM: '77', USEC_INITIALIZED: '1' });
    const ev = ok(raw);
    assert.equal(ev.source, 'udev');
    assert.equal(ev.action, 'add');
    assert.equal(ev.devpath, '/devices/virtual/block/loop0');
    assert.equal(ev.subsystem, 'block');
    assert.equal(ev.seqnum, 77);
    assert.equal(ev.env.USEC_INITIALIZED, '1');
  });

  it('round-trips encodeUevent', function () {
    const b = encodeUevent('offline', `/kernel/dlm/${LS}`, { SEQNUM: '5', LOCKSPACE: LS, SUBSYSTEM: 'dlm' });
    assert.equal(b.toString('latin1').split('\0').slice(0, 6).join('|'), `offline@/kernel/dlm/${LS}|ACTION=offline|DEVPATH=/kernel/dlm/${LS}|SUBSYSTEM=dlm|LOCKSPACE=${LS}|SEQNUM=5`);
    const ev = ok(b);
    assert.equal(ev.action, 'offline');
    assert.equal(ev.seqnum, 5);
  });

  describe('malformed datagrams give a typed result', function () {
    const cases: [string, Uint8Array, string][] = [
      ['empty', Buffer.alloc(0), 'empty'],
      ['no NUL at all', Buffer.from('add@/devices/x'), 'no-nul'],
      ['unterminated last string', Buffer.from('add@/x\0ACTION=add'), 'no-nul'],
      ['no @', Buffer.from('add /x\0ACTION=add\0'), 'no-at'],
      ['empty action', Buffer.from('@/x\0'), 'bad-header'],
      ['devpath not absolute', Buffer.from('add@x\0'), 'bad-header'],
      ['pair without =', Buffer.from('add@/x\0ACTION\0'), 'bad-pair'],
      ['pair with empty key', Buffer.from('add@/x\0=v\0'), 'bad-pair'],
      ['ACTION differs from header', Buffer.from('add@/x\0ACTION=remove\0'), 'mismatch'],
      ['DEVPATH differs from header', Buffer.from('add@/x\0DEVPATH=/y\0'), 'mismatch'],
      ['huge', Buffer.alloc(MAX_UEVENT_BYTES + 1, 0x41), 'too-large'],
      ['too many keys', Buffer.from('add@/x\0' + Array.from({ length: 300 }, (_, i) => `K${i}=v\0`).join('')), 'too-many-keys'],
      ['libudev header too short', Buffer.from('libudev\0\xfe\xed', 'latin1'), 'bad-libudev-header'],
    ];
    for (const [name, buf, reason] of cases) {
      it(name, function () {
        assert.equal(bad(buf), reason);
      });
    }

    it('libudev with bad magic or properties out of range', function () {
      const good = encodeLibudev({ ACTION: 'add', DEVPATH: '/x' });
      const m = Buffer.from(good);
      m.writeUInt32BE(0xdeadbeef, 8);
      assert.equal(bad(m), 'bad-libudev-header');
      const r = Buffer.from(good);
      r.writeUInt32LE(good.length, 20);
      assert.equal(bad(r), 'bad-libudev-header');
      assert.equal(bad(encodeLibudev({ SUBSYSTEM: 'block' })), 'missing-key');
    });
  });

  it('never throws on arbitrary bytes (property)', function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const p = parseUevent(bytes);
        assert.equal(typeof p.malformed, 'boolean');
      }),
      { numRuns: 2000 },
    );
    // and on near-misses of the real format
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 8 }), (a, d, kv) => {
        const raw = Buffer.from(`${a}@${d}\0` + kv.map(([k, v]) => `${k}=${v}\0`).join(''));
        const p = parseUevent(raw);
        // the header splits at its first '@' (an action with '@' in it, like "A@/", is not the
        // kernel's, and "A@/@" is then action "A", devpath "/@"), and ends at its first NUL
        const header = `${a}@${d}`.split('\0')[0]!;
        const at = header.indexOf('@');
        if (!p.malformed) {
          assert.equal(p.action, header.slice(0, at));
          assert.equal(p.devpath, header.slice(at + 1));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('model/uevent helpers', function () {
  const dlm = (action: string, extra: Record<string, string> = {}) =>
    ok(encodeUevent(action, `/kernel/dlm/${LS}`, { SUBSYSTEM: 'dlm', LOCKSPACE: LS, SEQNUM: '3', ...extra }));

  it('recognises dlm lockspace online/offline/add/remove', function () {
    assert.deepEqual(dlmLockspaceEvent(dlm('online')), { action: 'online', lockspace: LS, releaseRecover: false, seqnum: 3 });
    assert.equal(isDlmOnline(dlm('online')), true);
    assert.equal(isDlmOffline(dlm('online')), false);
    assert.equal(isDlmOffline(dlm('offline')), true);
    assert.equal(dlmLockspaceEvent(dlm('offline', { RELEASE_RECOVER: '1' }))?.releaseRecover, true);
    assert.equal(dlmLockspaceEvent(dlm('remove'))?.action, 'remove');
  });

  it('rejects non-dlm and inconsistent lockspace events', function () {
    assert.equal(dlmLockspaceEvent(dlm('change')), undefined);
    assert.equal(dlmLockspaceEvent(ok(encodeUevent('online', `/kernel/dlm/${LS}`, { SUBSYSTEM: 'dlm', LOCKSPACE: 'OTHER' }))), undefined);
    assert.equal(dlmLockspaceEvent(ok(encodeUevent('online', `/kernel/dlm/${LS}/x`, { SUBSYSTEM: 'dlm' }))), undefined);
    assert.equal(dlmLockspaceEvent(ok(encodeUevent('online', `/kernel/dlm/${LS}`, { SUBSYSTEM: 'mem' }))), undefined);
    assert.equal(dlmLockspaceEvent(ok(encodeUevent('online', '/devices/virtual/mem/null', { SUBSYSTEM: 'mem' }))), undefined);
    // LOCKSPACE missing: the name comes from the devpath
    assert.equal(dlmLockspaceEvent(ok(encodeUevent('online', `/kernel/dlm/${LS}`, { SUBSYSTEM: 'dlm' })))?.lockspace, LS);
  });

  it('recognises block device add/remove/change', function () {
    const ev = ok(
      encodeUevent('change', '/devices/virtual/block/loop3', {
        SUBSYSTEM: 'block',
        MAJOR: '7',
        MINOR: '3',
        DEVNAME: 'loop3',
        DEVTYPE: 'disk',
        DISKSEQ: '15',
        DISK_MEDIA_CHANGE: '1',
        SEQNUM: '88',
      }),
    );
    assert.deepEqual(blockDeviceEvent(ev), {
      action: 'change',
      devpath: '/devices/virtual/block/loop3',
      devname: 'loop3',
      devtype: 'disk',
      major: 7,
      minor: 3,
      mediaChange: true,
      diskseq: 15,
      seqnum: 88,
    });
    assert.equal(blockDeviceEvent(ok(encodeUevent('add', '/devices/x', { SUBSYSTEM: 'mem' }))), undefined);
    assert.equal(blockDeviceEvent(ok(encodeUevent('bind', '/devices/x', { SUBSYSTEM: 'block' }))), undefined);
    assert.equal(blockDeviceEvent(ok(encodeUevent('add', '/devices/x', { SUBSYSTEM: 'block', DEVTYPE: 'weird' })))?.devtype, undefined);
  });
});
