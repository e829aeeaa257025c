// Configuration readers on large inputs: each parser on a generated input of N and of 8×N lines
// (valid member lists, and one broken line repeated — what the fuzzer's large mutations make),
// best of --runs; prints ms and the 8×/1× ratio (linear: about 8; quadratic: about 64).
//   npx tsx bench/parsers.ts [--lines N] [--runs R]
import { parseClusterConf } from '../lib/config/clusterConf.js';
import { parseCmanXml } from '../lib/config/cmanXml.js';
import { parseCorosyncConfCluster } from '../lib/config/corosyncConf.js';
import { parseJsonConfig } from '../lib/config/json.js';
import { parseO2cbDefaults } from '../lib/config/o2cbDefaults.js';
import { benchArgs } from './args.js';

const { lines, runs } = benchArgs(import.meta.url, { lines: { default: '5000', int: true }, runs: { default: '3', int: true } });

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const cases: [string, (t: string) => unknown, (n: number) => string][] = [
  ['cluster.conf nodes', parseClusterConf, (n) => 'cluster:\n\tnode_count = 1\n\tname = c\n\n' + Array.from({ length: n }, (_, i) => `node:\n\tip_port = 7777\n\tip_address = ${ip(i)}\n\tnumber = ${i}\n\tname = n${i}\n\tcluster = c\n\n`).join('')],
  ['cluster.conf broken line', parseClusterConf, (n) => 'cluster:\n\tnode_count = 0\n\tname = c\n' + '\tbogus = 1\n'.repeat(n)],
  ['cman XML members', parseCmanXml, (n) => '<cluster name="c" config_version="1"><clusternodes>' + Array.from({ length: n }, (_, i) => `<clusternode name="n${i}" nodeid="${i + 1}"/>`).join('\n') + '</clusternodes></cluster>'],
  ['corosync.conf nodelist', parseCorosyncConfCluster, (n) => 'totem {\n cluster_name: c\n}\nnodelist {\n' + Array.from({ length: n }, (_, i) => ` node {\n  ring0_addr: ${ip(i)}\n  nodeid: ${i + 1}\n }\n`).join('') + '}\n'],
  ['JSON nodes', parseJsonConfig, (n) => JSON.stringify({ name: 'c', nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i}`, number: i, ipAddress: ip(i) })) }, null, 1)],
  ['/etc/default/o2cb lines', parseO2cbDefaults, (n) => 'O2CB_ENABLED=true\n' + '# note\nFOO=bar\n'.repeat(n)],
  ['/etc/default/o2cb syntax errors', parseO2cbDefaults, (n) => 'O2CB_ENABLED=true\n' + "X='a' b\n".repeat(n)],
];

function best(f: () => void): number {
  let b = Infinity;
  for (let r = 0; r < runs; r++) {
    const s = performance.now();
    f();
    b = Math.min(b, performance.now() - s);
  }
  return b;
}

console.log(`${'reader'.padEnd(34)} ${'1× MB'.padStart(7)} ${'1× ms'.padStart(8)} ${'8× ms'.padStart(8)}  ratio`);
for (const [name, parse, gen] of cases) {
  const small = gen(lines);
  const large = gen(lines * 8);
  const run = (t: string) => () => {
    try {
      parse(t);
    } catch {
      /* errors are part of the case: their cost is measured too */
    }
  };
  const a = best(run(small));
  const b = best(run(large));
  console.log(`${name.padEnd(34)} ${(small.length / 1e6).toFixed(2).padStart(7)} ${a.toFixed(1).padStart(8)} ${b.toFixed(1).padStart(8)}  ${(b / a).toFixed(1)}`);
}
