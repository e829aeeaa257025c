// Long kernel waits are announced (lib/stack/progress.ts) and shown on a terminal as a line that
// counts seconds (terminalWaitReporter in lib/cli/output.ts).
import assert from 'node:assert/strict';
import { terminalWaitReporter } from '../../lib/cli/output.js';
import { SimBackend } from '../../lib/kernel/sim.js';
import { o2nm } from '../../lib/model/paths.js';
import { startRegion } from '../../lib/stack/heartbeat.js';
import { reportedWait, setWaitReporter } from '../../lib/stack/progress.js';

describe('waits announced while they last', function () {
  afterEach(() => setWaitReporter(undefined));

  it('reportedWait starts and ends the report around the wait, whether it resolves or rejects', async function () {
    const log: string[] = [];
    setWaitReporter((label) => {
      log.push(`begin ${label}`);
      return () => log.push(`end ${label}`);
    });
    assert.equal(await reportedWait('a', Promise.resolve(1)), 1);
    await assert.rejects(reportedWait('b', Promise.reject(new Error('x'))), /x/);
    assert.deepEqual(log, ['begin a', 'end a', 'begin b', 'end b']);
  });

  it('a heartbeat region start is announced with its device and region', async function () {
    const b = new SimBackend();
    b.mkdir(o2nm.cluster('demo'));
    b.mkdir(o2nm.node('demo', 'n1'));
    b.write(o2nm.nodeAttr('demo', 'n1', 'ipv4_port'), '7777\n');
    b.write(o2nm.nodeAttr('demo', 'n1', 'ipv4_address'), '192.0.2.1\n');
    b.write(o2nm.nodeAttr('demo', 'n1', 'num'), '1\n');
    b.write(o2nm.nodeAttr('demo', 'n1', 'local'), '1\n');
    const labels: string[] = [];
    setWaitReporter((label) => (labels.push(label), () => undefined));
    await startRegion(b, 'demo', { uuid: 'A'.repeat(32), device: '/dev/vdb', blockBytes: 1024, startBlock: 2, blocks: 255 });
    assert.deepEqual(labels, [`starting heartbeat on /dev/vdb (region ${'A'.repeat(32)})`]);
  });

  it('on a terminal: one line rewritten each second, erased at the end; nothing for a wait under a second; the label printable', function () {
    let tick: (() => void) | undefined;
    let cancelled = 0;
    const out: string[] = [];
    const report = terminalWaitReporter((s) => out.push(s), { every: (fn) => ((tick = fn), () => void cancelled++) });
    report('quick')();
    assert.deepEqual(out, [], 'under a second: nothing written');
    const done = report('starting heartbeat on /dev/vdb\x1b]0;x');
    tick!();
    tick!();
    done();
    assert.equal(cancelled, 2);
    assert.equal(out.length, 3);
    assert.match(out[0]!, /^\r\x1b\[Kstarting heartbeat on \/dev\/vdb\\x1b\]0;x: \d+ s$/);
    assert.equal(out[2], '\r\x1b[K');
  });
});
