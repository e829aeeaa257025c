import assert from 'node:assert/strict';
import { runCli } from '../support/runCli.js';

describe('o2stack daemon: membership flags', function () {
  it('usage errors (exit 2): unknown --membership, --members with corosync, static without --members, bad --node-id', async function () {
    const cases: [string[], RegExp][] = [
      [['daemon', '--membership', 'pacemaker'], /--membership pacemaker: corosync or static/],
      [['daemon', '--membership', 'corosync', '--members', '/nonexistent'], /--members is for --membership static/],
      [['daemon', '--membership', 'static'], /needs --members FILE/],
      [['daemon', '--node-id', 'x'], /--node-id x: a positive integer/],
      [['daemon', '--members', '/nonexistent'], /--cluster NAME is needed/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });
});
