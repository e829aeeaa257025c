// corosync and Debian's dlm_controld inside a test VM, for suites of two or three VMs where node
// N is 192.0.2.N, $NODE = N and $NODES the number of VMs (vm/run-cluster.sh; vm/run-two.sh for
// two). A thin async layer over vm/guest-cluster.sh,
// which copies the packages vm/setup.sh extracted into the guest, writes the configuration,
// starts each daemon in the background by PID and waits (bounded) for it:
//
//   await startCorosync({ clusterName: 'demo' });     // every VM calls it; resolves once corosync
//                                                    // reports every node ($NODES) and quorum
//   await startDlmControld(fenceOkAgent);           // optional: the reference control daemon
//   ...
//   await stopDlmControld(); await stopCorosync();  // SIGTERM by PID (SIGKILL after 10 s)
//   console.log(await clusterLogs());               // log tails, dlm_tool status/ls/dump
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('../../..', import.meta.url).pathname);
/** The guest-side script (vm/guest-cluster.sh). */
export const GUEST_CLUSTER = join(root, 'vm', 'guest-cluster.sh');
/** The fence agent that always succeeds (test VMs only): logs node=/fail_time= to $O2STACK_FENCE_LOG. */
export const FENCE_OK_AGENT = join(root, 'test', 'vm', 'support', 'fence-ok.sh');
/** Where guest-cluster.sh logs each daemon's stdout and stderr. */
export const COROSYNC_LOG = '/tmp/corosync.log';
export const DLM_CONTROLD_LOG = '/tmp/dlm_controld.log';

export interface RunResult {
  code: number | null;
  out: string;
  ms: number;
}

/** Runs guest-cluster.sh with args, bounded by timeoutMs (the script bounds its own waits too). */
export function guestCluster(args: string[], timeoutMs = 180_000, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((res) => {
    const c = spawn('bash', [GUEST_CLUSTER, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      out += `\n(guest-cluster.sh ${args.join(' ')}: killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      res({ code, out, ms: Date.now() - t0 });
    });
  });
}

async function must(args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const r = await guestCluster(args, timeoutMs, env);
  if (r.code !== 0) throw new Error(`vm/guest-cluster.sh ${args.join(' ')} failed (exit ${r.code}):\n${r.out}`);
  return r;
}

const pidOf = (name: string): number | undefined => {
  const f = `/run/o2stack-vm/${name}.pid`;
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
};

export interface CorosyncOptions {
  /** totem.cluster_name: must equal the ocfs2 volume's cluster name on the user stack. */
  clusterName: string;
  /**
   * Nodes 1..nodes at 192.0.2.N (default: $NODES, the number of VMs run-cluster.sh started, else
   * 2). Two nodes get two_node quorum (the survivor stays quorate); more get plain votequorum (a
   * majority is quorate).
   */
  nodes?: number;
  /** totem.token in ms (default 3000, corosync's own default). */
  tokenMs?: number;
  /** Seconds to wait for every node and quorum (default 120: the other VM may boot later). */
  waitS?: number;
  /** Members to wait for (default: all nodes): fewer when a node is kept out on purpose. */
  waitMembers?: number;
  /** Extra votequorum lines (e.g. "last_man_standing: 1"), one per line. */
  quorumExtra?: string;
  /** quorum_votes of nodes 1..N (default one each). */
  votes?: number[];
  /** two nodes without two_node: each alone is without quorum (a split leaves neither side quorate) */
  noTwoNode?: boolean;
}

export interface Started {
  pid: number;
  /** From the start to every node joined and quorate (corosync), or to the first answer (dlm_controld). */
  ms: number;
  out: string;
}

/**
 * Installs corosync and dlm_controld in the guest without starting them (corosync-start does it
 * too): a machine where corosync is installed but not running. The guest shares the host's /usr,
 * so without this its client libraries are there only if the host has them.
 */
export async function installClusterPackages(): Promise<void> {
  await must(['install'], 180_000);
}

/** Writes corosync.conf and starts corosync; resolves once all nodes are members and quorate. */
export async function startCorosync(o: CorosyncOptions): Promise<Started> {
  const waitS = o.waitS ?? 120;
  const nodes = o.nodes ?? (Number(process.env.NODES) || 2);
  const env = { ...process.env, ...(o.waitMembers !== undefined ? { O2S_WAIT_MEMBERS: String(o.waitMembers) } : {}), ...(o.quorumExtra ? { O2S_QUORUM_EXTRA: o.quorumExtra } : {}), ...(o.votes ? { O2S_VOTES: o.votes.join(' ') } : {}), ...(o.noTwoNode ? { O2S_NO_TWO_NODE: '1' } : {}) };
  const r = await must(['corosync-start', o.clusterName, String(nodes), String(o.tokenMs ?? 3000), String(waitS)], (waitS + 60) * 1000, env);
  const m = /quorate after (\d+) ms/.exec(r.out);
  return { pid: pidOf('corosync') ?? 0, ms: m ? Number(m[1]) : r.ms, out: r.out };
}

/** Waits until corosync reports exactly n members, quorate. */
export async function waitCorosyncMembers(n: number, waitS = 120): Promise<number> {
  const r = await must(['corosync-wait-members', String(n), String(waitS)], (waitS + 30) * 1000);
  return Number(/after (\d+) ms/.exec(r.out)?.[1] ?? r.ms);
}

/**
 * Starts dlm_controld (debug log to /tmp/dlm_controld.log) with startup fencing off,
 * post_join_delay 0 and `fence_all AGENT`, or enable_fencing=0 for 'none'.
 * env reaches the fence agent (e.g. O2STACK_FENCE_LOG).
 */
export async function startDlmControld(agent: string | 'none', env: NodeJS.ProcessEnv = process.env): Promise<Started> {
  const r = await must(['dlm-start', agent, '60'], 120_000, env);
  const m = /answering after (\d+) ms/.exec(r.out);
  return { pid: pidOf('dlm_controld') ?? 0, ms: m ? Number(m[1]) : r.ms, out: r.out };
}

export const stopCorosync = () => must(['corosync-stop'], 30_000).then(() => undefined);
export const stopDlmControld = () => must(['dlm-stop'], 30_000).then(() => undefined);
/** Log tails of both daemons and dlm_tool status/ls/dump (never throws). */
export const clusterLogs = () => guestCluster(['logs'], 60_000).then((r) => r.out);
export const corosyncPid = () => pidOf('corosync');
export const dlmControldPid = () => pidOf('dlm_controld');

/** The guest's kernel log with the printk time of each line (seconds since boot). */
export function kernelLog(text: string): { t: number; msg: string }[] {
  const out: { t: number; msg: string }[] = [];
  for (const l of text.split('\n')) {
    const m = /^\[\s*(\d+\.\d+)\] (.*)$/.exec(l);
    if (m) out.push({ t: Number(m[1]), msg: m[2]! });
  }
  return out;
}

/**
 * From the kernel log: for lockspace ls, the time from fs/dlm's "joining the lockspace group..."
 * (printed right after it sends the `online` uevent) to "group event done" (the control daemon's
 * event_done write), and on to "join complete" (the first recovery done), in ms.
 */
export function joinTimes(dmesg: string, ls: string): { onlineToEventDone?: number; onlineToJoined?: number } {
  const lines = kernelLog(dmesg).filter((l) => l.msg.includes(`dlm: ${ls}: `));
  const at = (s: string) => lines.find((l) => l.msg.includes(s))?.t;
  const t0 = at('joining the lockspace group');
  const done = at('group event done');
  const joined = at('join complete');
  const ms = (t?: number) => (t0 !== undefined && t !== undefined ? Math.round((t - t0) * 1000) : undefined);
  return { onlineToEventDone: ms(done), onlineToJoined: ms(joined) };
}

export interface JoinSample {
  lockspace: string;
  /** `dlm_tool join` end to end (process start included). */
  wallMs: number;
  onlineToEventDone?: number;
  onlineToJoined?: number;
}

/**
 * The join benchmark: `count` lockspaces joined and left one after the other with `dlm_tool
 * join/leave` (libdlm on /dev/misc/dlm-control: the kernel sends `online`, whatever control
 * daemon runs answers it), each join timed from the kernel's printk lines (joinTimes). Needs
 * vm/guest-cluster.sh install (dlm_tool, the /dev/misc links) and a running control daemon.
 * There is no udev: libdlm polls (1 s steps, 10 s at most) for /dev/misc/dlm_<ls>, so a
 * background loop (killed by its PID at the end) links the kernel's /dev/dlm_* nodes there as
 * 51-dlm.rules would. `dlm_tool join` wall time therefore includes up to a second of that poll.
 */
export async function benchLockspaceJoins(count: number, prefix = 'o2bench'): Promise<JoinSample[]> {
  const linker = spawn('sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do for f in /dev/dlm_*; do [ -c "$f" ] && [ ! -e "/dev/misc/${f#/dev/}" ] && ln -s "../${f#/dev/}" "/dev/misc/${f#/dev/}"; done; i=$((i+1)); sleep 0.05; done'], { stdio: 'ignore' });
  const tool = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((res) => {
      const c = spawn('dlm_tool', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const t = setTimeout(() => c.kill('SIGKILL'), 60_000);
      c.on('close', (code) => {
        clearTimeout(t);
        res({ code, out });
      });
    });
  const out: JoinSample[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const ls = `${prefix}${i}`;
      const t0 = Date.now();
      const j = await tool(['join', ls]);
      const wallMs = Date.now() - t0;
      if (j.code !== 0) throw new Error(`dlm_tool join ${ls}: exit ${j.code}: ${j.out}`);
      const l = await tool(['leave', ls]);
      if (l.code !== 0) throw new Error(`dlm_tool leave ${ls}: exit ${l.code}: ${l.out}`);
      out.push({ lockspace: ls, wallMs, ...joinTimes(execFileSync('dmesg', { encoding: 'utf8' }), ls) });
    }
  } finally {
    linker.kill('SIGTERM');
  }
  return out;
}

/** The median of the defined numbers (undefined for none). */
export function median(xs: (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : Math.round((v[m - 1]! + v[m]!) / 2);
}
