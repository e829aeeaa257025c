// npm run demo [-- --stack o2cb|user] : two VMs (Debian's 6.1 kernel under qemu) share one disk;
// o2stack starts the cluster stack on both, mounts the volume, writes on one and reads on the
// other, then the host kills one VM and the survivor carries on. Prints each step with timings and
// `o2stack status` of both, and ends with "N passed, N failed" over its checks (CI runs it).
//   --stack o2cb (default): o2cb with local disk heartbeat (demo/guest-o2cb.sh)
//   --stack user: corosync + `o2stack daemon` (fs/dlm control, fencing) on a pcmk volume
//                 (demo/guest-user.sh)
//   --fault writer: n2 is killed while a writer on it appends fsync'd records (npm run test:faults):
//                 every record whose fsync returned (ACK N on n2's console) must be on the volume
//                 afterwards, and fsck.ocfs2 -fn must find it clean
//   --fault hbstall (o2cb): as writer, but the host does not kill n2: n2's own I/O to the shared
//                 disk stalls (a device-mapper device suspended with its requests queued) and its
//                 kernel must end it (o2hb's write timeout: it fences itself by restarting); n1 writes
//                 again once o2hb has declared n2 dead. Times from the stall, on the host's clock
//                 and from the kernels' printk times.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync, closeSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { stack: { type: 'string', default: 'o2cb' }, timeout: { type: 'string' }, fault: { type: 'string' } } });
if (values.fault !== undefined && values.fault !== 'writer' && values.fault !== 'hbstall') {
  console.error(`--fault ${values.fault}: "writer" (n2 killed while writing) or "hbstall" (o2cb: n2's disk I/O stalls while writing)`);
  process.exit(2);
}
if (values.fault === 'hbstall' && values.stack !== 'o2cb') {
  console.error('--fault hbstall: the o2cb stack only (--stack o2cb): it is o2hb, the disk heartbeat, that notices the stall');
  process.exit(2);
}
const fault = values.fault;
const STACKS = {
  // checks: 3 on n2 before it is killed, 6 on n1
  o2cb: { script: 'demo/guest-o2cb.sh', mkfsStack: 'o2cb', checks: 9, timeout: '420', recovery: 'o2cb: idle timeout 10 s, dead threshold 7 = 12 s' },
  // checks: 5 on n2 before it is killed, 12 on n1
  user: { script: 'demo/guest-user.sh', mkfsStack: 'pcmk', checks: 19, timeout: '600', recovery: 'corosync token 3 s + consensus, then fence, comm removal, lockspace restart, journal replay' },
} as const;
if (values.stack !== 'o2cb' && values.stack !== 'user') {
  console.error(`--stack ${values.stack}: o2cb or user`);
  process.exit(2);
}
const stack = STACKS[values.stack];
const timeout = values.timeout ?? stack.timeout;
const t0 = Date.now();
const since = () => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (s: string) => console.log(`[demo ${since()}] ${s}`);

function sh(cmd: string, args: string[], what: string, input?: string): void {
  const r = spawnSync(cmd, args, { cwd: root, stdio: input ? ['pipe', 'inherit', 'inherit'] : 'inherit', input });
  if (r.status !== 0) {
    console.error(`demo: ${what} failed (${cmd} exited ${r.status})`);
    process.exit(1);
  }
}

say('setting up: VM harness (kernel, qemu, initramfs), TypeScript build');
sh('bash', ['vm/setup.sh'], 'vm/setup.sh');
sh('npm', ['run', '-s', 'build'], 'npm run build');
const work = join(process.env.O2STACK_VM_CACHE ?? '/var/cache/o2stack-vm', 'demo');
mkdirSync(work, { recursive: true });
const disk = join(work, 'shared.img');
rmSync(disk, { force: true });
closeSync(openSync(disk, 'w'));
truncateSync(disk, 512 * 1024 * 1024);
say(`making the shared volume: mkfs.ocfs2 --cluster-stack=${stack.mkfsStack} --cluster-name=demo on ${disk} (512 MiB)`);
// 'y': with no cluster running here mkfs asks whether to go on without its cluster check
sh('mkfs.ocfs2', ['-q', '-F', '-b', '4K', '-C', '4K', '-N', '4', '-J', 'size=16M', '-L', 'demo', `--cluster-stack=${stack.mkfsStack}`, '--cluster-name=demo', disk], 'mkfs.ocfs2', 'y\n');

function freePort(): number {
  for (let i = 0; i < 100; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    const r = spawnSync('ss', ['-Hltn', `sport = :${p}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '') return p;
  }
  throw new Error('no free port');
}
const port = freePort();
const entry = join(root, 'dist', 'o2stack.cjs');

interface Vm {
  n: number;
  pidFile: string;
  done: Promise<number>;
  lines: string[];
  killedAt?: number;
  /** hbstall: when (host clock) n2 said it stalls its I/O, and when its VM ended by itself */
  stalledAt?: number;
  endedAt?: number;
}
/** hbstall: how long n2's kernel may take to end its VM after the stall before the host kills it */
const STALL_LIMIT_MS = 180_000;
let writableAgainAt: number | undefined;
function boot(n: number, net: string): Vm {
  const pidFile = join(work, `qemu-n${n}.pid`);
  rmSync(pidFile, { force: true });
  const env = {
    ...process.env,
    NODE: String(n),
    O2STACK_ENTRY: entry,
    FAULT: fault ?? '',
    VM_ENV: 'NODE O2STACK_ENTRY FAULT',
    VM_DISKS: disk,
    VM_NET: net,
    VM_IP: `192.0.2.${n}/24`,
    VM_HOSTNAME: `n${n}`,
    VM_PIDFILE: pidFile,
    VM_MEM: '1024',
    VM_TIMEOUT: timeout,
  };
  const child = spawn('bash', ['vm/run.sh', 'bash', stack.script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const vm: Vm = {
    n,
    pidFile,
    lines: [],
    done: new Promise((res) =>
      child.on('close', (code) => {
        vm.endedAt ??= Date.now();
        res(code ?? 1);
      }),
    ),
  };
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      vm.lines.push(line);
      if (/^\[\s*\d+\.\d+\]/.test(line)) continue; // kernel console noise
      console.log(`n${n}| ${line}`);
      if (n === 2 && line.includes('READY_TO_DIE')) killNode(vm);
      if (n === 2 && line.includes('STALLING') && vm.stalledAt === undefined) {
        vm.stalledAt = Date.now();
        say(`n2 stalled its own I/O to the shared disk; its kernel must end it (the host waits ${STALL_LIMIT_MS / 1000} s at most)`);
        setTimeout(() => {
          if (vm.endedAt === undefined) {
            say(`n2 still running ${STALL_LIMIT_MS / 1000} s after its I/O stalled: its kernel did not fence it`);
            killNode(vm);
          }
        }, STALL_LIMIT_MS).unref();
      }
      if (n === 1 && line.includes('WRITABLE_AGAIN') && writableAgainAt === undefined) writableAgainAt = Date.now();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return vm;
}

function qemuPid(vm: Vm): number | undefined {
  return existsSync(vm.pidFile) ? Number(readFileSync(vm.pidFile, 'utf8').trim()) : undefined;
}

function killNode(vm: Vm): void {
  const pid = qemuPid(vm);
  if (!pid) return say(`cannot kill n${vm.n}: no qemu pid`);
  process.kill(pid, 'SIGKILL');
  vm.killedAt = Date.now();
  say(`SIGKILL n${vm.n} (qemu pid ${pid}) with the volume mounted and ${values.stack === 'o2cb' ? 'heartbeat' : 'corosync and o2stack daemon'} running`);
}

say(`booting n1 (192.0.2.1) and n2 (192.0.2.2), link on 127.0.0.1:${port}, shared disk /dev/vda`);
const n1 = boot(1, `listen=127.0.0.1:${port}`);
// n2 connects once n1's qemu listens on the port
for (let i = 0; i < 150; i++) {
  const pid = qemuPid(n1);
  const r = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (pid && r.stdout.includes(`pid=${pid},`)) break;
  spawnSync('sleep', ['0.2']);
}
const n2 = boot(2, `connect=127.0.0.1:${port}`);
const cleanup = () => {
  for (const vm of [n1, n2]) {
    const pid = qemuPid(vm);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
};
process.on('SIGINT', () => (cleanup(), process.exit(130)));
const [rc1] = await Promise.all([n1.done, n2.done]);
cleanup();

const checks = [...n1.lines, ...n2.lines].filter((l) => l.startsWith('CHECK '));
const rec = n1.lines.find((l) => l.startsWith('@@ RECOVERY_MS'));
console.log('');
say(`summary: n1 exit ${rc1}; n2 ${n2.killedAt ? 'killed by the host' : fault === 'hbstall' && n2.stalledAt !== undefined ? 'ended by its own kernel' : 'NOT killed'}`);
if (fault === 'hbstall') {
  // the kernels' own account, in printk seconds from the marker n2 wrote to its kernel log
  const printk = (lines: string[], text: string) => {
    const l = lines.find((x) => /^\[\s*\d+\.\d+\]/.test(x) && x.includes(text));
    return l ? Number(/^\[\s*(\d+\.\d+)\]/.exec(l)![1]) : undefined;
  };
  const mark = printk(n2.lines, 'o2stack-fault: n2 heartbeat I/O suspended now');
  const timeout = printk(n2.lines, 'Heartbeat write timeout');
  const fenced = printk(n2.lines, 'ocfs2 is very sorry to be fencing this system');
  const rel = (t: number | undefined) => (mark !== undefined && t !== undefined ? `${((t - mark) * 1000).toFixed(0)} ms` : 'not seen');
  const selfFenced = n2.stalledAt !== undefined && !n2.killedAt && n2.endedAt !== undefined;
  say(`n2's kernel after the stall (printk): heartbeat write timeout ${rel(timeout)}, self-fence ${rel(fenced)}; its VM ended ${n2.stalledAt !== undefined && n2.endedAt !== undefined ? `${n2.endedAt - n2.stalledAt} ms` : '-'} after it said STALLING (host clock)`);
  if (writableAgainAt !== undefined && n2.stalledAt !== undefined) say(`n1 wrote again ${writableAgainAt - n2.stalledAt} ms after n2 stalled (host clock; o2hb dead threshold 7: 14 s without n2's heartbeat)`);
  for (const l of n2.lines.filter((x) => /^\[\s*\d+\.\d+\]/.test(x) && /o2hb|o2quo|o2net|ocfs2|Heartbeat|fenc|reboot|restart/i.test(x)).slice(-12)) console.log(`n2| ${l}`);
  console.log(`@@ HBSTALL_RESULT selfFenced=${selfFenced} writeTimeoutMs=${mark !== undefined && timeout !== undefined ? Math.round((timeout - mark) * 1000) : -1} fenceMs=${mark !== undefined && fenced !== undefined ? Math.round((fenced - mark) * 1000) : -1} vmEndedMs=${n2.stalledAt !== undefined && n2.endedAt !== undefined ? n2.endedAt - n2.stalledAt : -1} writableMs=${writableAgainAt !== undefined && n2.stalledAt !== undefined ? writableAgainAt - n2.stalledAt : -1}`);
  checks.push(`CHECK ${selfFenced && fenced !== undefined ? 'ok' : 'fail'} n2's kernel fenced it after its heartbeat I/O stalled (o2hb write timeout ${rel(timeout)}, self-fence ${rel(fenced)} after the stall)`);
}
if (rec) say(`n1 wrote again ${rec.split(' ')[2]} ms after n2 stopped answering (${stack.recovery})`);
const dm = n1.lines.find((l) => l.startsWith('@@ DAEMON_MS'));
if (dm) say(`n1's o2stack daemon, ms after n2 stopped answering: ${dm.split(' ').slice(2).join(', ')}`);
if (fault === 'writer' || fault === 'hbstall') {
  // the last record n2's filesystem acknowledged (fsync returned) before the kill, against what n1
  // found (an ACK line cut off by the kill only makes the check smaller, never wrong)
  const acks = n2.lines.map((l) => /^ACK (\d+)$/.exec(l)).filter((m) => m !== null).map((m) => Number(m[1]));
  const lastAck = acks.length ? Math.max(...acks) : 0;
  const w = /^@@ WRITER records=(\d+) last=(\d+) gaps=(\d+) torn=(\d+)$/.exec(n1.lines.find((l) => l.startsWith('@@ WRITER')) ?? '');
  const ok = w !== null && lastAck >= 20 && Number(w[2]) >= lastAck && Number(w[3]) === 0 && Number(w[4]) <= 1;
  checks.push(`CHECK ${ok ? 'ok' : 'fail'} no acknowledged write lost: n2 acknowledged records 1..${lastAck}; n1 found ${w ? `${w[1]} (last ${w[2]}, ${w[3]} gaps, ${w[4]} torn)` : 'no report'}`);
  console.log(`@@ WRITER_RESULT acked=${lastAck} found=${w ? w[1] : 0} ok=${ok}`);
}
// --fault writer adds two checks: fsck on n1, and the acknowledged records above; hbstall also
// n2's self-fence
const expected = stack.checks + (fault ? 2 : 0) + (fault === 'hbstall' ? 1 : 0);
const passed = checks.filter((l) => l.startsWith('CHECK ok')).length;
// n2 ends killed by the host, or (hbstall) by its own kernel, checked above
const failed = checks.length - passed + Math.max(0, expected - checks.length) + (rc1 !== 0 ? 1 : 0) + (n2.killedAt || fault === 'hbstall' ? 0 : 1);
for (const c of checks) say(c);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
