// Command-line options of the bench scripts: --help prints the script's header comment (its usage);
// an unknown option or a number that is not a whole number > 0 prints what was wrong and the usage
// and exits 2, instead of a stack trace or a run with NaN.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

type Spec = Record<string, { default?: string; int?: boolean }>;

export function benchArgs<S extends Spec>(scriptUrl: string, spec: S): { [K in keyof S]: S[K] extends { int: true } ? number : string | undefined } {
  const usage = readFileSync(fileURLToPath(scriptUrl), 'utf8')
    .split('\n')
    .filter((l, i, all) => l.startsWith('//') && all.slice(0, i).every((p) => p.startsWith('//')))
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
  const options = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: 'string' as const, ...(v.default !== undefined ? { default: v.default } : {}) }]));
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
  const out: Record<string, string | number | undefined> = {};
  for (const [k, v] of Object.entries(spec)) {
    const raw = values[k] as string | undefined;
    if (v.int) {
      const n = /^[0-9]+$/.test(raw ?? '') ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) {
        process.stderr.write(`--${k} ${JSON.stringify(raw ?? '')}: a whole number > 0\n\n${usage}\n`);
        process.exit(2);
      }
      out[k] = n;
    } else out[k] = raw;
  }
  return out as { [K in keyof S]: S[K] extends { int: true } ? number : string | undefined };
}
