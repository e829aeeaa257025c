// `npm run test:cluster` runs real corosync clusters in network namespaces on this host: it needs
// corosync (the daemon and its client libraries, which the addon dlopens) and iproute2. This
// installs them as root (test/cluster/setup.sh) when they are missing, so the suite works right
// after `npm ci` on a fresh machine; when it cannot, it says why (the suite then skips at once).
// No rebuild: the addon is built without corosync's headers and loads its libraries at run time.
//   npx tsx test/support/ensureCorosync.ts   (prints the outcome; exit 0 ok, 3 unavailable)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export type CorosyncHost = { ok: true; installed: boolean } | { ok: false; reason: string };

/** Asked in a child: dlopen failures are not cached, but a fresh process is the honest check. */
function availability(): { available: boolean; reason?: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./lib/kernel/corosync.ts').then((m) => console.log(JSON.stringify(m.corosyncAvailability())), (e) => console.log(JSON.stringify({ available: false, reason: String(e) })))"], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { available: boolean; reason?: string };
  } catch {
    return { available: false, reason: `could not load the addon: ${(r.stderr || r.stdout).trim().slice(0, 300)}` };
  }
}

const hasCorosyncBinary = () => ['/usr/sbin/corosync', '/sbin/corosync'].some((p) => spawnSync(p, ['-v'], { stdio: 'ignore' }).status === 0);

export function ensureCorosyncHost(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): CorosyncHost {
  const first = availability();
  if (first.available && hasCorosyncBinary()) return { ok: true, installed: false };
  const what = first.available ? 'the corosync daemon is not installed' : first.reason!;
  if (process.getuid?.() !== 0) return { ok: false, reason: `${what}; as root: sh test/cluster/setup.sh` };
  log(`corosync: ${what}: installing corosync (test/cluster/setup.sh)`);
  const setup = spawnSync('sh', [join(root, 'test/cluster/setup.sh')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (setup.status !== 0) return { ok: false, reason: `test/cluster/setup.sh failed (exit ${setup.status ?? setup.signal}): ${what}` };
  const again = availability();
  if (!again.available) return { ok: false, reason: `corosync's libraries still do not load after installing it: ${again.reason}` };
  return hasCorosyncBinary() ? { ok: true, installed: true } : { ok: false, reason: 'no corosync binary after installing it' };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = ensureCorosyncHost();
  console.log(r.ok ? `corosync: installed and its libraries load${r.installed ? ' (installed now)' : ''}` : `corosync: unavailable: ${r.reason}`);
  process.exit(r.ok ? 0 : 3);
}
