// Two copies of the library in one process (the ESM sources and the CommonJS build dist/index.cjs,
// npm's dual package hazard), in a child process so that the test runner's own keeps one copy:
// the addon is shared, and a second copy hands it its own error classes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const repo = new URL('../..', import.meta.url).pathname;
/** The CommonJS build (npm run build). */
export const CJS_BUILD = `${repo}dist/index.cjs`;
/** A source module of this checkout by its path from the repository root (lib/index.ts). */
export const source = (path: string) => JSON.stringify(`${repo}${path}`);

/**
 * Runs an ES module script (through tsx) in which `cjs` is the CommonJS build, already loaded
 * when `beforeCjs` has run; returns the JSON its last stdout line prints. Skips the test (saying
 * why) where dist/index.cjs is not built.
 */
export function runWithBothCopies(ctx: Mocha.Context, script: { imports: string; beforeCjs?: string; body: string }): unknown {
  if (!existsSync(CJS_BUILD)) {
    console.log('    skipping: dist/index.cjs is not built (npm run build)');
    ctx.skip();
  }
  const text = `import { createRequire as requireFrom } from 'node:module';
${script.imports}
${script.beforeCjs ?? ''}
const cjs = requireFrom(import.meta.url)(${JSON.stringify(CJS_BUILD)});
${script.body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', text], { encoding: 'utf8', timeout: 50_000, cwd: repo });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
