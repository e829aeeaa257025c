// What the CLI prints: names and labels from disks and configfs cannot drive the terminal.
import assert from 'node:assert/strict';
import { field, printable, safeJson } from '../../lib/cli/output.js';

describe('cli output: control characters', function () {
  it('printable escapes C0 (but newline and tab), DEL and C1 as \\xNN; field escapes newline and tab too', function () {
    assert.equal(printable('vol\x1b[2J\x07ok\x7f\x9b1m\n\tend'), 'vol\\x1b[2J\\x07ok\\x7f\\x9b1m\n\tend');
    assert.equal(printable('plain ünïcode ✓'), 'plain ünïcode ✓');
    assert.equal(field('two\nlines\tand\x00nul'), 'two\\nlines\\tand\\x00nul');
  });

  it('safeJson is JSON that round-trips and has no raw control byte (DEL and C1 as \\u00XX, not printable\'s \\xNN)', function () {
    const v = { label: 'vol\x1b[2J\x7f\x85\x9b1m', n: 1 };
    const text = safeJson(v, 2);
    assert.deepEqual(JSON.parse(text), v);
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    assert.match(text, /\\u007f\\u0085\\u009b/);
    assert.equal(safeJson(undefined), 'null');
  });
});
