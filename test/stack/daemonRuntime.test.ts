// The daemons' shared runtime (lib/stack/daemon/runtime.ts): the ordered setup and its teardowns,
// the event queue, timers, and the daemon group's announcements.
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { DaemonRuntime, GroupAnnouncer, type DaemonEvents, type GroupEvent, type LogEntry } from '../../lib/stack/daemon/runtime.js';
import { encodeMounts } from '../../lib/model/mountTracker.js';
import { stderrIsJournal, stderrLine } from '../../lib/stack/daemon/log.js';
import { watchdogIntervalMs } from '../../lib/stack/daemon/notify.js';

function runtime() {
  const em = new EventEmitter<DaemonEvents>();
  const logs: LogEntry[] = [];
  em.on('log', (e) => logs.push(e));
  return { em, logs, rt: new DaemonRuntime(em, () => undefined) };
}

describe('daemon runtime', function () {
  it('setup: steps run in order; when one throws, those done are undone in reverse and the error goes on', async function () {
    const { rt, logs } = runtime();
    const trace: string[] = [];
    const step = (name: string, fail = false, undoFails = false) => ({
      name,
      run: async () => {
        trace.push(`+${name}`);
        if (fail) throw new Error(`${name} failed`);
        return () => {
          trace.push(`-${name}`);
          if (undoFails) throw new Error(`undo ${name} broke`);
        };
      },
    });
    await assert.rejects(rt.setUp([step('a'), step('b', false, true), { name: 'none', run: () => undefined }, step('c'), step('d', true), step('e')]), /d failed/);
    assert.deepEqual(trace, ['+a', '+b', '+c', '+d', '-c', '-b', '-a']);
    // a teardown that fails is logged and the rest still run
    assert.ok(logs.some((l) => l.event === 'teardown' && /undoing 'b' failed: undo b broke/.test(l.msg)));
    // nothing is left to undo
    trace.length = 0;
    await rt.tearDown();
    assert.deepEqual(trace, []);
  });

  it('stop: teardowns in reverse (onStop ones in their place), queued work after halt is skipped, timers cleared', async function () {
    const { rt } = runtime();
    const trace: string[] = [];
    await rt.setUp([
      { name: 'one', run: () => () => void trace.push('-one') },
      { name: 'two', run: () => () => void trace.push('-two') },
    ]);
    rt.onStop('late', () => void trace.push('-late'));
    let ran = 0;
    let fired = 0;
    rt.every(5, () => fired++);
    rt.after(5, () => fired++);
    // the event being handled ends; one queued after halt began never runs
    rt.enqueue(async () => {
      await new Promise((r) => setTimeout(r, 20));
      ran++;
    });
    await new Promise((r) => setImmediate(r));
    const halted = rt.halt();
    rt.enqueue(() => void ran++);
    await halted;
    await rt.idle();
    await rt.tearDown();
    assert.equal(ran, 1);
    assert.ok(rt.stopped);
    assert.deepEqual(trace, ['-late', '-two', '-one']);
    const before = fired;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(fired, before, 'a timer fired after halt');
  });

  it('queue: one event at a time, in order; a failure is logged and the next event still runs', async function () {
    const { rt, logs } = runtime();
    const trace: string[] = [];
    rt.enqueue(async () => {
      trace.push('a<');
      await new Promise((r) => setTimeout(r, 10));
      trace.push('a>');
    });
    rt.enqueue(() => {
      throw new Error('boom');
    });
    rt.enqueue(() => void trace.push('c'));
    await rt.idle();
    assert.deepEqual(trace, ['a<', 'a>', 'c']);
    assert.ok(logs.some((l) => l.event === 'internal' && /boom/.test(l.msg)));
  });

  it('announcer: announces this node\'s volumes once per change and to joiners, merges the others\', reports group events', async function () {
    const { rt, em } = runtime();
    const sent: string[] = [];
    const events: GroupEvent[] = [];
    em.on('group', (e) => events.push(e));
    const ann = new GroupAnnouncer(rt, em, 1, async (d) => void sent.push(d));
    // not joined: this node's view only, nothing sent
    await ann.refresh([{ ls: 'A', nodes: [1] }], true);
    assert.deepEqual(sent, []);
    assert.deepEqual([...ann.view([{ ls: 'A', nodes: [1] }])], [['A', [1]]]);
    assert.ok(await ann.join(async () => undefined));
    assert.ok(ann.joined);
    ann.membersChanged([1, 2]);
    await ann.refresh([{ ls: 'A', nodes: [1] }], false);
    await ann.refresh([{ ls: 'A', nodes: [1] }], false);
    assert.deepEqual(sent, [encodeMounts(['A'])], 'the same volumes announced twice');
    // node 2 says it has B
    assert.ok(ann.message(2, encodeMounts(['B'])));
    await ann.refresh([{ ls: 'A', nodes: [1] }], false);
    assert.deepEqual(events.map((e) => [e.uuid, e.nodes]), [
      ['A', [1]],
      ['B', [2]],
    ]);
    // a joiner: announced again though nothing changed
    assert.ok(ann.membersChanged([1, 2, 3]));
    await ann.refresh([{ ls: 'A', nodes: [1] }], true);
    assert.equal(sent.length, 2);
    // the group lost: node 2's volumes go, nothing more is sent
    ann.lost();
    await ann.refresh([{ ls: 'A', nodes: [1] }, { ls: 'C', nodes: [1] }], false);
    assert.equal(sent.length, 2);
    assert.deepEqual(events.at(-1), { uuid: 'C', nodes: [1], joined: [1], left: [] });
    assert.ok(events.some((e) => e.uuid === 'B' && e.nodes.length === 0 && e.left.includes(2)));
  });

  it('announcer: a failed join leaves the view local and says so; a failed send still reports', async function () {
    const { rt, em, logs } = runtime();
    const ann = new GroupAnnouncer(rt, em, 1, () => Promise.reject(new Error('cpg gone')));
    assert.equal(await ann.join(() => Promise.reject(new Error('no cpg'))), false);
    assert.ok(logs.some((l) => l.event === 'group-join-failed' && /no cpg/.test(l.msg)));
    const ok = new GroupAnnouncer(rt, em, 1, () => Promise.reject(new Error('cpg gone')));
    await ok.join(async () => undefined);
    const events: GroupEvent[] = [];
    em.on('group', (e) => events.push(e));
    await ok.refresh([{ ls: 'A', nodes: [1] }], false);
    assert.ok(logs.some((l) => l.event === 'announce-failed' && /cpg gone/.test(l.msg)));
    assert.deepEqual(events.map((e) => e.uuid), ['A']);
  });
});

describe('daemon under systemd: watchdog and journal priorities', function () {
  it('the watchdog interval is half of WATCHDOG_USEC, only for this pid, none when unset or invalid', function () {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 7), 15000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7), 15000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7), undefined, 'meant for another process');
    for (const bad of [undefined, '', '0', '-5', 'abc', '1e400']) assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: bad }, 7), undefined, String(bad));
  });

  it('WATCHDOG=1 goes through the event queue: a stuck event handler stops the pings (systemd then restarts the daemon)', async function () {
    const { rt } = runtime();
    const sent: string[] = [];
    assert.equal(rt.startWatchdog((s) => (sent.push(s), true), { WATCHDOG_USEC: '20000' }), 10);
    // bounded waits, not fixed sleeps: a loaded machine delays timers
    const until = async (ok: () => boolean) => {
      for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(ok());
    };
    await until(() => sent.length >= 2);
    assert.ok(sent.every((s) => s === 'WATCHDOG=1'));
    let release!: () => void;
    let stuck = false;
    rt.enqueue(() => new Promise<void>((r) => ((stuck = true), (release = r))));
    await until(() => stuck);
    const before = sent.length;
    await new Promise((r) => setTimeout(r, 60)); // several intervals
    assert.equal(sent.length, before, 'no ping while an event is stuck');
    release();
    await until(() => sent.length > before); // the queued pings go out once it moves again
    await rt.tearDown();
    rt.halt();
  });

  it('no WATCHDOG_USEC: no watchdog timer', function () {
    const { rt } = runtime();
    assert.equal(rt.startWatchdog(() => assert.fail('no ping'), {}), undefined);
  });

  it('journal priorities: <3> error, <4> warn, <6> info, only when stderr is the journal stream (JOURNAL_STREAM = its dev:ino)', function () {
    assert.equal(stderrLine('{"a":1}', 'warn', true), '<4>{"a":1}\n');
    assert.equal(stderrLine('x', 'error', true), '<3>x\n');
    assert.equal(stderrLine('x', 'info', true), '<6>x\n');
    assert.equal(stderrLine('x', 'warn', false), 'x\n');
    const st = () => ({ dev: 2049, ino: 77 });
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: '2049:77' }, st), true);
    assert.equal(stderrIsJournal({ JOURNAL_STREAM: '2049:78' }, st), false, 'stderr redirected elsewhere');
    assert.equal(stderrIsJournal({}, st), false);
  });
});
