// The addon's corosync surface is compiled only when corosync's -dev packages were present at
// `npm ci` (binding.gyp asks pkg-config). The flows that need it (`npm run demo -- --stack user`,
// the corosync VM suites, `npm run test:cluster`) call this first: when the surface is missing it
// installs the packages (as root: test/cluster/setup.sh) and rebuilds the addon, so they work
// right after `npm ci` on a fresh machine; when it cannot, it says why (the caller skips).
//   npx tsx test/support/ensureCorosync.ts   (prints the outcome; exit 0 ok, 3 unavailable)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export type CorosyncAddon = { ok: true; rebuilt: boolean } | { ok: false; reason: string };

/** Asked in a child: this process may hold the addon loaded before a rebuild. */
function availability(): { available: boolean; reason?: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./lib/kernel/corosync.ts').then((m) => console.log(JSON.stringify(m.corosyncAvailability())), (e) => console.log(JSON.stringify({ available: false, reason: String(e) })))"], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { available: boolean; reason?: string };
  } catch {
    return { available: false, reason: `could not load the addon: ${(r.stderr || r.stdout).trim().slice(0, 300)}` };
  }
}

export function ensureCorosyncAddon(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): CorosyncAddon {
  const first = availability();
  if (first.available) return { ok: true, rebuilt: false };
  if (process.env.O2STACK_ADDON) return { ok: false, reason: `O2STACK_ADDON=${process.env.O2STACK_ADDON} has no corosync surface (${first.reason}); rebuild that addon with corosync's -dev packages installed` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `${first.reason}; as root: sh test/cluster/setup.sh && npm run build:native` };
  log(`corosync: the addon was built without it (${first.reason}): installing corosync's -dev packages and rebuilding the addon`);
  const setup = spawnSync('sh', [join(root, 'test/cluster/setup.sh')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (setup.status !== 0) return { ok: false, reason: `test/cluster/setup.sh failed (exit ${setup.status ?? setup.signal}): ${first.reason}` };
  const build = spawnSync('npm', ['run', '-s', 'build:native'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (build.status !== 0) return { ok: false, reason: `the addon's rebuild failed (exit ${build.status ?? build.signal})` };
  const again = availability();
  return again.available ? { ok: true, rebuilt: true } : { ok: false, reason: `still no corosync surface after installing and rebuilding: ${again.reason}` };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = ensureCorosyncAddon();
  console.log(r.ok ? `corosync: the addon has its corosync surface${r.rebuilt ? ' (rebuilt now)' : ''}` : `corosync: unavailable: ${r.reason}`);
  process.exit(r.ok ? 0 : 3);
}
