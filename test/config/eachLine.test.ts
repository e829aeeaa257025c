// eachLine (common.ts) replaced `text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)` in the line-based
// readers, for speed on MB inputs: it must give the same lines, numbered from 1.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eachLine } from '../../lib/config/common.js';

const lines = (t: string) => {
  const out: [string, number][] = [];
  eachLine(t, (raw, line) => {
    out.push([raw, line]);
  });
  return out;
};
const bySplit = (t: string) => t.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/).map((raw, i): [string, number] => [raw, i + 1]);

describe('eachLine', () => {
  it('gives the lines of the regex split: CR LF, LF and a lone CR end a line, a leading BOM is dropped', () => {
    for (const t of ['', '\n', '\r', '\r\n', '\n\r', 'a', 'a\n', 'a\r\nb\rc\n\nd', '\uFEFF', '\uFEFFa\r', '\uFEFF\uFEFFx', 'x\uFEFF\n', '\r\r\n\n']) assert.deepEqual(lines(t), bySplit(t), JSON.stringify(t));
  });

  it('agrees with the split on generated texts without CR (the indexOf path) too, and stops when told', () => {
    const piece = fc.constantFrom('\n', '\uFEFF', 'a', ' ', 'é', '\u2028');
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }).map((a) => a.join('')), (t) => assert.deepEqual(lines(t), bySplit(t))), { numRuns: 2000 });
    for (const t of ['a\nb\nc', 'a\r\nb\r\nc']) {
      const seen: string[] = [];
      eachLine(t, (raw) => {
        seen.push(raw);
        if (raw === 'b') return false;
      });
      assert.deepEqual(seen, ['a', 'b'], JSON.stringify(t));
    }
  });

  it('agrees with the split on generated texts of line ends, BOMs and other characters', () => {
    const piece = fc.constantFrom('\r', '\n', '\r\n', '\uFEFF', 'a', ' ', 'é', '\u2028');
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }).map((a) => a.join('')), (t) => assert.deepEqual(lines(t), bySplit(t))), { numRuns: 2000 });
  });
});
