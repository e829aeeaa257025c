// Command-line options of the bench scripts: --help prints the script's header comment (its usage);
// an unknown option or a number that is not a whole number > 0 prints what was wrong and the usage
// and exits 2, instead of a stack trace or a run with NaN. `flag: true` options are booleans (--json).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

type Spec = Record<string, { default?: string; int?: boolean; flag?: boolean }>;
type Values<S extends Spec> = { [K in keyof S]: S[K] extends { int: true } ? number : S[K] extends { flag: true } ? boolean : string | undefined };

export function benchArgs<S extends Spec>(scriptUrl: string, spec: S): Values<S> {
  const usage = readFileSync(fileURLToPath(scriptUrl), 'utf8')
    .split('\n')
    .filter((l, i, all) => l.startsWith('//') && all.slice(0, i).every((p) => p.startsWith('//')))
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
  const options = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.flag ? { type: 'boolean' as const } : { type: 'string' as const, ...(v.default !== undefined ? { default: v.default } : {}) }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [k, v] of Object.entries(spec)) {
    const raw = values[k] as string | undefined;
    if (v.flag) out[k] = values[k] === true;
    else if (v.int) {
      const n = /^[0-9]+$/.test(raw ?? '') ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) {
        process.stderr.write(`--${k} ${JSON.stringify(raw ?? '')}: a whole number > 0\n\n${usage}\n`);
        process.exit(2);
      }
      out[k] = n;
    } else out[k] = raw;
  }
  return out as Values<S>;
}

/** One measured figure of a bench: what it is, its unit and its value (NaN: not measured). */
export interface Figure {
  label: string;
  unit: string;
  value: number;
}

/** What a bench prints with --json: one document, its figures keyed by a stable name. */
export interface BenchResult {
  bench: string;
  params: Record<string, unknown>;
  figures: Record<string, Figure>;
  notes?: string[];
}

export function printJson(r: BenchResult): void {
  // NaN is not JSON: a figure that could not be measured is null
  process.stdout.write(`${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
}

export const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
