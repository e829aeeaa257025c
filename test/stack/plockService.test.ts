// The daemon's POSIX-lock service (lib/stack/daemon/plocks.ts) with a stand-in membership: how a
// request's multicast goes out — through sendNow where the membership has it, else send() — and
// that a request whose multicast fails either way is answered -ENOLCK, never left asleep.
import assert from 'node:assert/strict';
import { encodePlockInfo, PlockDevice, plockSocketpairForTest, type PlockRequest } from '../../lib/kernel/plock.js';
import { loadNative, type NativePlockHandle } from '../../lib/kernel/native.js';
import { lockspaceId } from '../../lib/model/dlm.js';
import type { MembershipSource } from '../../lib/model/membership.js';
import { ENOLCK } from '../../lib/model/plockSync.js';
import { PlockService } from '../../lib/stack/daemon/plocks.js';
import { until } from '../support/until.js';

const LS = '0123456789ABCDEF0123456789ABCDEF';
const ME = { nodeid: 1, pid: 1 };

/** What a stand-in membership does with a send: 'ok' (sent), 'wait' (sendNow only: false), 'fail'. */
type Mode = 'ok' | 'wait' | 'fail';

function standIn(withSendNow: boolean) {
  const sent: { via: 'sendNow' | 'send'; data: Buffer | string }[] = [];
  let mode: Mode = 'ok';
  const fail = () => Object.assign(new Error('CS_ERR_LIBRARY: cpg_mcast_joined'), { code: 'CS_ERR_LIBRARY' });
  const m = {
    send: (_g: string, data: Buffer | string) => {
      if (mode === 'fail') return Promise.reject(fail());
      sent.push({ via: 'send', data });
      return Promise.resolve();
    },
    ...(withSendNow
      ? {
          sendNow: (_g: string, data: Buffer | string) => {
            if (mode === 'fail') throw fail();
            if (mode === 'wait') return false;
            sent.push({ via: 'sendNow', data });
            return true;
          },
        }
      : {}),
  };
  return { membership: m as unknown as MembershipSource, sent, setMode: (x: Mode) => (mode = x) };
}

async function withService(withSendNow: boolean, body: (s: { svc: PlockService; sent: ReturnType<typeof standIn>['sent']; setMode: (m: Mode) => void; ask: (pid: number) => void; answers: PlockRequest[] }) => Promise<void>): Promise<void> {
  const [daemonSide, kernelSide] = plockSocketpairForTest();
  const m = standIn(withSendNow);
  const svc = new PlockService({ localNodeId: 1, membership: m.membership, device: { fd: daemonSide }, log: () => undefined });
  const stop = svc.start();
  const kernel = new PlockDevice({ fd: kernelSide });
  const answers: PlockRequest[] = [];
  kernel.on('requests', (a) => answers.push(...a));
  kernel.on('error', () => undefined);
  try {
    // this node joins the lockspace's group alone; its own plock-state, delivered back, syncs it
    svc.groupChange(LS, { members: [ME], joined: [{ ...ME, reason: 'join' }], left: [] });
    const state = m.sent.at(-1)!.data;
    assert.ok(typeof state === 'string' && state.includes('"plock-state"'));
    assert.equal(svc.message(LS, ME, Buffer.from(state)), true);
    assert.equal(svc.model.view(LS)[0]?.synced, true);
    const ask = (pid: number) => loadNative().plock!.write((kernel as unknown as { handle: NativePlockHandle }).handle, encodePlockInfo({ version: [1, 2, 0], optype: 1, ex: true, wait: false, flags: 0, pid, nodeid: 0, rv: 0, fsid: lockspaceId(LS), number: 9n, start: 0n, end: 0n, owner: BigInt(pid) }));
    await body({ svc, sent: m.sent, setMode: m.setMode, ask, answers });
  } finally {
    stop();
    kernel.close();
  }
}

describe('plock service: the multicast of a request', function () {
  for (const withSendNow of [true, false]) {
    it(`${withSendNow ? 'with sendNow' : 'send() only'}: a request goes out once; a failed multicast is answered -ENOLCK`, async function () {
      await withService(withSendNow, async ({ svc, sent, setMode, ask, answers }) => {
        const before = sent.length;
        ask(100);
        await until(() => sent.length === before + 1, 'the request multicast');
        assert.equal(sent.at(-1)!.via, withSendNow ? 'sendNow' : 'send');
        // delivered back: granted and answered 0
        svc.message(LS, ME, sent.at(-1)!.data as Buffer);
        await until(() => answers.some((a) => a.pid === 100), 'the answer to pid 100');
        assert.equal(answers.find((a) => a.pid === 100)!.rv, 0);

        setMode('fail');
        ask(101);
        await until(() => answers.some((a) => a.pid === 101), 'the answer to pid 101');
        assert.equal(answers.find((a) => a.pid === 101)!.rv, -ENOLCK);
        assert.equal(svc.model.summary().inFlight, 0, 'nothing left waiting for a delivery');
      });
    });
  }

  it('sendNow saying wait: the request goes through send() instead, once', async function () {
    await withService(true, async ({ sent, setMode, ask }) => {
      setMode('wait');
      const before = sent.length;
      ask(200);
      await until(() => sent.length === before + 1, 'the request multicast');
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(sent.slice(before).map((s) => s.via), ['send']);
    });
  });
});
