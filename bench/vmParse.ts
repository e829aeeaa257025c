// Figures from the VM benches' human output (bench/vm-apply.ts's min/median/max lines, bench/vm-plock.ts's
// "PHASE uncontended: pairs N ms M ..." lines), for bench/report.ts --vm. Pure: tested on sample text.
export interface Span {
  label: string;
  unit: string;
  median: number;
  min: number;
  max: number;
}
const span = (label: string, unit: string, median: number, min: number, max: number): Span => ({ label, unit, median, min, max });
export function parseVmApply(out: string): Record<string, Span> {
  const res: Record<string, Span> = {};
  const keys: Record<string, string> = { '(1) library apply': 'libraryMs', '(2) o2stack apply': 'cliMs', '(3) o2cb register-cluster': 'o2cbMs', '(4) C floor': 'floorMs', '(5) no-op apply': 'noopMs', 'node -e 1': 'nodeMs' };
  for (const m of out.matchAll(/(\(\d\) [^\n]*?|node -e 1)\s+min\s+([\d.]+) ms\s+median\s+([\d.]+) ms\s+max\s+([\d.]+) ms/g)) {
    const k = keys[m[1]!.trim()];
    if (k) res[k] = span(`VM: ${m[1]!.trim()}${k === 'nodeMs' ? '' : ', 255 nodes'}`, 'ms', +m[3]!, +m[2]!, +m[4]!);
  }
  if (!Object.keys(res).length) return res; // nothing measured: no ratios either
  const med = (k: string) => res[k]?.median ?? NaN;
  const one = (label: string, unit: string, v: number) => span(label, unit, v, v, v);
  res.libraryOverFloor = one('VM: library / floor (medians)', '×', med('libraryMs') / med('floorMs'));
  res.cliOverheadFloors = one('VM: (`o2stack apply` − `node -e 1`) / floor (medians)', '× floor', (med('cliMs') - med('nodeMs')) / med('floorMs'));
  res.noopOverFresh = one('VM: no-op re-apply / fresh apply (medians)', '%', (100 * med('noopMs')) / med('libraryMs'));
  if (res.o2cbMs) res.o2cbOverFloor = one('VM: o2cb register-cluster / floor (medians)', '×', med('o2cbMs') / med('floorMs'));
  return res;
}
export function parseVmPlock(out: string): Record<string, Span> {
  const res: Record<string, Span> = {};
  const rate = (pairs: string, ms: string) => (1000 * +pairs) / +ms;
  for (const m of out.matchAll(/^(\S+) uncontended: pairs (\d+) ms (\d+)/gm)) {
    const v = rate(m[2]!, m[3]!);
    res[`${m[1]}.uncontended`] = span(`VM plock (${m[1] === 'dlm' ? 'dlm_controld' : m[1] === 'ours' ? 'o2stack daemon' : m[1]}), one node: lock+unlock pairs`, 'pairs/s', v, v, v);
  }
  const contended: Record<string, number[]> = {};
  for (const m of out.matchAll(/^(\S+) contended n\d: pairs (\d+) ms (\d+)/gm)) (contended[m[1]!] ??= []).push(rate(m[2]!, m[3]!));
  for (const [phase, xs] of Object.entries(contended)) {
    const sum = xs.reduce((a, b) => a + b, 0);
    res[`${phase}.contended`] = span(`VM plock (${phase === 'dlm' ? 'dlm_controld' : phase === 'ours' ? 'o2stack daemon' : phase}), both nodes on one byte: pairs, summed (min–max: per node)`, 'pairs/s', sum, Math.min(...xs), Math.max(...xs));
  }
  for (const k of ['uncontended', 'contended']) {
    const ours = res[`ours.${k}`]?.median;
    const dlm = res[`dlm.${k}`]?.median;
    if (ours !== undefined && dlm !== undefined) res[`oursOverDlm.${k}`] = span(`VM plock ${k}: o2stack daemon / dlm_controld (same boot)`, '×', ours / dlm, ours / dlm, ours / dlm);
  }
  for (const m of out.matchAll(/^plock-daemon\.ts (\d+): .*?(\d[\d.]*) us per op/gm)) {
    const v = +m[2]!;
    res[`daemonUsPerOp.${m[1]}`] = span(`VM (TCG): bench/plock-daemon.ts --pairs ${m[1]}, per op`, 'µs', v, v, v);
  }
  return res;
}
