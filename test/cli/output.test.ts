// What the CLI prints: names and labels from disks and configfs cannot drive the terminal.
import assert from 'node:assert/strict';
import { field, printable } from '../../lib/cli/output.js';

describe('cli output: control characters', function () {
  it('printable escapes C0 (but newline and tab), DEL and C1 as \\xNN; field escapes newline and tab too', function () {
    assert.equal(printable('vol\x1b[2J\x07ok\x7f\x9b1m\n\tend'), 'vol\\x1b[2J\\x07ok\\x7f\\x9b1m\n\tend');
    assert.equal(printable('plain ünïcode ✓'), 'plain ünïcode ✓');
    assert.equal(field('two\nlines\tand\x00nul'), 'two\\nlines\\tand\\x00nul');
  });
});
