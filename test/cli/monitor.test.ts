// o2stack monitor, run as a child process against this machine's kernel uevents.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { collect, exitOf, synthUevent, synthUnavailable, waitFor } from '../support/uevents.js';

const root = new URL('../..', import.meta.url).pathname;

function startMonitor(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, ...collect(child) };
}

describe('cli: o2stack monitor', function () {
  this.timeout(90000);
  const children: ChildProcess[] = [];
  before(function () {
    const why = synthUnavailable();
    if (why) {
      console.log(`    skipping monitor tests: ${why}`);
      this.skip();
    }
  });
  afterEach(function () {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  });

  it('--json prints one JSON line per event and exits 0 on SIGTERM', async function () {
    const m = startMonitor(['--json', 'monitor', '--subsystem', 'mem']);
    children.push(m.child);
    const exit = exitOf(m.child, 80000);
    await waitFor(() => m.err().includes('monitor will print'), 60000, 'the monitor banner');
    const uuid = synthUevent({ MON: 'json' });
    await waitFor(() => m.out().includes(uuid), 5000, 'the event line');
    process.kill(m.child.pid!, 'SIGTERM');
    const r = await exit;
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, m.err());
    const lines = m.out().trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const ev = events.find((e) => (e.env as Record<string, string>).SYNTH_UUID === uuid)!;
    assert.equal(ev.action, 'change');
    assert.equal(ev.devpath, '/devices/virtual/mem/null');
    assert.equal(ev.subsystem, 'mem');
    assert.equal(ev.source, 'kernel');
    assert.equal(ev.sender, 'kernel');
    assert.equal(typeof ev.seqnum, 'number');
    assert.equal(typeof ev.time, 'number');
    assert.equal((ev.env as Record<string, string>).SYNTH_ARG_MON, 'json');
    for (const e of events) assert.equal(e.subsystem, 'mem');
    assert.match(m.err(), /monitor: \d+ events printed/);
  });

  it('prints udevadm-style lines (with -p, the properties) and stops on SIGINT', async function () {
    const m = startMonitor(['monitor', '--subsystem', 'mem', '-p']);
    children.push(m.child);
    const exit = exitOf(m.child, 80000);
    await waitFor(() => m.err().includes('monitor will print'), 60000, 'the monitor banner');
    const uuid = synthUevent({ MON: 'text' });
    await waitFor(() => m.out().includes(`SYNTH_UUID=${uuid}`), 5000, 'the event');
    process.kill(m.child.pid!, 'SIGINT');
    const r = await exit;
    assert.equal(r.code, 0, m.err());
    const block = m.out().split('\n\n').find((b) => b.includes(uuid))!;
    const [head, ...props] = block.trim().split('\n');
    assert.match(head, /^KERNEL\[\d+\.\d{6}\] change +\/devices\/virtual\/mem\/null \(mem\)$/);
    assert.ok(props.includes('ACTION=change'));
    assert.ok(props.includes('SYNTH_ARG_MON=text'));
  });

  it('--subsystem filters other events out', async function () {
    const m = startMonitor(['--json', 'monitor', '--subsystem', 'no-such-subsystem']);
    children.push(m.child);
    const exit = exitOf(m.child, 80000);
    await waitFor(() => m.err().includes('monitor will print'), 60000, 'the monitor banner');
    const uuid = randomUUID();
    synthUevent({}, 'change', uuid);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(m.child.pid!, 'SIGTERM');
    const r = await exit;
    assert.equal(r.code, 0, m.err());
    assert.equal(m.out(), '');
    const filtered = Number(/(\d+) filtered out/.exec(m.err())?.[1]);
    assert.ok(filtered >= 1, m.err());
  });

  it('a reader that reads only after the events and the SIGINT still gets every line (nothing dropped at exit)', async function () {
    // stdout not read while 3,000 events (~1.2 MB of JSON) arrive: the monitor's write(2) blocks,
    // the kernel keeps the rest in the socket's 64 MiB buffer; then SIGINT, then the reading starts.
    // Through process.stdout the lines were queued in memory and process.exit dropped them.
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'monitor', '--json', '--subsystem', 'mem'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = exitOf(child, 80000);
    await waitFor(() => err.includes('monitor will print'), 60000, 'the monitor banner');
    const uuids = new Set<string>();
    for (let i = 0; i < 3000; i++) uuids.add(synthUevent({ MON: 'burst', PAD: 'x'.repeat(200) }));
    await new Promise((r) => setTimeout(r, 500));
    process.kill(child.pid!, 'SIGINT');
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const r = await exit;
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0, err);
    const seen = out.trim().split('\n').map((l) => (JSON.parse(l) as { env: Record<string, string> }).env.SYNTH_UUID);
    const missing = [...uuids].filter((u) => !seen.includes(u));
    assert.equal(missing.length, 0, `${missing.length} of 3000 events not printed; the monitor said: ${err.trim().split('\n').pop()}`);
  });

  it('a write error other than EPIPE (stdout on /dev/full: ENOSPC) ends the monitor with a failure, not 0', async function () {
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'monitor', '--json', '--subsystem', 'mem'], { cwd: root, stdio: ['ignore', full, 'pipe'] });
    closeSync(full);
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = exitOf(child, 80000);
    await waitFor(() => err.includes('monitor will print'), 60000, 'the monitor banner');
    synthUevent({ MON: 'full' });
    const r = await exit;
    assert.equal(r.timedOut, false);
    assert.notEqual(r.code, 0, err);
    assert.match(err, /ENOSPC/);
  });
});
