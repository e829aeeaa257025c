import assert from 'node:assert/strict';
import { runCli } from '../support/runCli.js';

describe('o2stack daemon: membership flags', function () {
  it('usage errors (exit 2): unknown --membership, --members with corosync, static without --members, bad --node-id', async function () {
    const cases: [string[], RegExp][] = [
      [['daemon', '--membership', 'pacemaker'], /--membership pacemaker: corosync or static/],
      [['daemon', '--membership', 'corosync', '--members', '/nonexistent'], /--members is for --membership static/],
      [['daemon', '--membership', 'static'], /needs --members FILE/],
      [['daemon', '--node-id', 'x'], /--node-id x: a positive integer/],
      [['daemon', '--members', '/nonexistent', '--fence-manual'], /--cluster NAME is needed/],
      [['daemon', '--fence-manual', '--unsafe-skip-fencing'], /--fence-manual and --unsafe-skip-fencing: give one fence method/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });
});

describe('o2stack daemon: a fence method is required', function () {
  it('none, or an empty --fence-agent (an unset variable in the unit file): refused, exit 6, with the three ways', async function () {
    for (const args of [['daemon', '--members', '/nonexistent', '--cluster', 'demo'], ['daemon', '--fence-agent', '', '--members', '/nonexistent', '--cluster', 'demo']]) {
      const r = await runCli(args);
      assert.equal(r.code, 6, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, args.includes('') ? /--fence-agent is empty/ : /no fence method/);
      assert.match(r.err, /--fence-manual/);
    }
  });
});
