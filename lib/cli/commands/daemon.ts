// o2stack daemon: the user stack's fs/dlm control daemon in standalone mode (no dlm_controld), in
// the foreground, one JSON line per event on stderr. Membership from corosync (the default: cluster
// name and nodelist from cmap, a CPG group per lockspace) or static (--members FILE). When
// dlm_controld runs, fs/dlm is its business: the daemon then only tracks beside it
// (lib/stack/daemon/tracking.ts: groups, status; corosync only), or refuses with --standalone.
// o2stack lockspaces / groups / daemon-ctl talk to it over its control socket.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { DAEMON_GROUP } from '../../model/mountTracker.js';
import { defaultFenceFromEnv } from '../../model/pacemakerFence.js';
import { intOption } from '../numericOption.js';
import { CliError, EXIT, printJson, writeOut, type GlobalOptions } from '../output.js';

interface DaemonCliOptions extends GlobalOptions {
  membership?: string;
  members?: string;
  nodeId?: string;
  cluster?: string;
  fenceAgent?: string;
  fenceTimeout: string;
  joinTimeout: string;
  socket: string;
  liveness: string;
  probePort: string;
  probeDead: string;
  legacy?: boolean;
  standalone?: boolean;
  /** commander's --no-plocks */
  plocks?: boolean;
  fenceManual?: boolean;
  fencePacemaker?: boolean;
  unsafeSkipFencing?: boolean;
  postJoinDelay: string;
  /** commander's --no-startup-fencing */
  startupFencing?: boolean;
}

/**
 * Which daemon runs: the standalone one when no dlm_controld runs (as before), the tracking one
 * beside a running dlm_controld; a combination that cannot work is a CliError saying why and how.
 */
export function daemonMode(o: { controld: { pid: number; how: string } | undefined; standalone: boolean; membership: 'corosync' | 'static'; legacy: boolean }): 'standalone' | 'beside-dlm_controld' {
  const c = o.controld;
  if (!c) return 'standalone';
  const seen = `dlm_controld is running (pid ${c.pid}, seen in ${c.how})`;
  if (o.standalone || o.legacy) {
    throw new CliError(`${seen}: fs/dlm is left to it, ${o.standalone ? '--standalone' : '--legacy'} does not start beside it (fs/dlm has one control daemon)`, EXIT.FAILED, `to run the o2stack daemon standalone stop dlm_controld first (systemctl stop dlm); to track beside it (groups, status) drop ${o.standalone ? '--standalone' : '--legacy'}`, { code: 'E_DLM_CONTROLD_RUNS', pid: c.pid });
  }
  if (o.membership === 'static') {
    throw new CliError(`${seen}: beside it the o2stack daemon follows the cluster dlm_controld follows, corosync's (the daemon group ${DAEMON_GROUP} on CPG); a static members list makes no sense there`, EXIT.FAILED, 'drop --membership static and --members (corosync is used); or stop dlm_controld (systemctl stop dlm) to run standalone with static membership', { code: 'E_STATIC_BESIDE_CONTROLD', pid: c.pid });
  }
  return 'beside-dlm_controld';
}

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the user stack\'s fs/dlm control daemon in the foreground (JSON log lines on stderr); when dlm_controld runs, fs/dlm is left to it and the daemon only tracks beside it (groups, status; corosync membership)')
    .option('--membership <kind>', "'corosync' (the default without --members: nodes, quorum and a CPG group per lockspace from the running corosync) or 'static' (--members FILE)")
    .option('--members <file>', 'static membership: one node a line, NAME=ID@ADDR[,ADDR...] (all listed nodes are members)')
    .option('--node-id <id>', 'this node (static: default the members-file entry named like this host; corosync: must equal corosync\'s)')
    .option('--cluster <name>', "cluster name (must match the volumes: mkfs.ocfs2 --cluster-name; corosync: default and must equal totem.cluster_name)")
    .option('--fence-agent <path>', 'fence agent: gets node=ID and fail_time=SECONDS lines on stdin, exit 0 = fenced (one fence method is required: this, --fence-pacemaker, --fence-manual or --unsafe-skip-fencing)')
    .option('--fence-pacemaker', "fence through Pacemaker's fencer: `stonith_admin --reboot NODENAME --tolerance 5s` (--fence when stonith-action is off; names from corosync's nodelist, else crm_node -l; a node Pacemaker fenced after it failed counts as fenced). The default when the daemon runs as a Pacemaker resource (OCF_RESOURCE_INSTANCE or PCMK_service set)")
    .option('--fence-manual', "no agent: a dead node's lockspaces stay stopped until someone makes sure it is off and runs `o2stack daemon-ctl fence-ack ID` (gives up automatic recovery)")
    .option('--unsafe-skip-fencing', 'no fencing at all: a node that stops answering is taken as dead at once and its locks handed out (gives up the guarantee that it cannot still write: data corruption if it was only cut off; tests only)')
    .option('--fence-timeout <ms>', 'time limit of one fence agent run', '60000')
    .option('--join-timeout <ms>', 'a lockspace join that waits (quorum, fencing) longer is answered -ETIMEDOUT', '120000')
    .option('--socket <path>', 'control socket (mode 0600)', '/run/o2stack.sock')
    .option('--liveness <kind>', "static membership only: how a member is found dead: 'tcp' (probe the peers' daemons) or 'none' (only `daemon-ctl node-down ID`)", 'tcp')
    .option('--probe-port <port>', 'TCP port of the liveness probe', '21065')
    .option('--probe-dead <ms>', 'a peer silent this long after answering once is dead', '5000')
    .option('--legacy', "legacy WITH_CONTROLD mode (recover_callbacks 0): node deaths reach ocfs2 as DOWN on /dev/ocfs2_control, held open while volumes are mounted; refused on kernels where DOWN crashes (FORTIFY_SOURCE, as Debian's 6.1)")
    .option('--standalone', 'refuse to start when dlm_controld runs, instead of tracking beside it')
    .option('--post-join-delay <ms>', "startup fencing: how long a configured node that was not a member when the cluster formed may take to join before it is fenced (dlm_controld's post_join_delay); after a partition this node lost, how long a node back in the membership may take to show its daemon before it is fenced", '30000')
    .option('--no-startup-fencing', "do not fence configured nodes that never joined since the cluster formed (dlm_controld's enable_startup_fencing=0): lockspaces then start at once, trusting that such a node holds nothing")
    .option('--no-plocks', 'do not serve POSIX locks (fcntl/lockf on user-stack volumes): every request is answered at once with ENOSYS (with static membership they always are)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<DaemonCliOptions>();
      const kind = o.membership ?? (o.members ? 'static' : 'corosync');
      if (kind !== 'static' && kind !== 'corosync') throw new CliError(`--membership ${kind}: corosync or static`, EXIT.USAGE);
      if (kind === 'static' && !o.members) throw new CliError('--membership static needs --members FILE (one node a line, NAME=ID@ADDR)', EXIT.USAGE);
      if (kind === 'corosync' && o.members) throw new CliError('--members is for --membership static; with corosync the nodes come from its nodelist', EXIT.USAGE);
      if (o.liveness !== 'tcp' && o.liveness !== 'none') throw new CliError(`--liveness ${o.liveness}: tcp or none`, EXIT.USAGE);
      const nodeId = o.nodeId === undefined ? undefined : intOption('--node-id', o.nodeId, { min: 1, max: 0xffffffff });
      // every number checked before anything is looked at or touched
      const DAY = 86_400_000;
      const fenceTimeoutMs = intOption('--fence-timeout', o.fenceTimeout, { min: 1, max: DAY, unit: 'milliseconds' });
      const joinTimeoutMs = intOption('--join-timeout', o.joinTimeout, { min: 1, max: DAY, unit: 'milliseconds' });
      const postJoinDelayMs = intOption('--post-join-delay', o.postJoinDelay, { min: 0, max: DAY, unit: 'milliseconds' });
      const probePort = intOption('--probe-port', o.probePort, { min: 1, max: 65535 });
      const probeDeadMs = intOption('--probe-dead', o.probeDead, { min: 1, max: DAY, unit: 'milliseconds' });
      const { findDlmControld } = await import('../../stack/daemon/controld.js');
      const controld = findDlmControld();
      const mode = daemonMode({ controld, standalone: o.standalone === true, membership: kind, legacy: o.legacy === true });
      if (mode === 'beside-dlm_controld') return besideDlmControld(o, cmd, controld!, nodeId);
      const fencing = fenceMethod(o, process.env);
      const { DlmDaemon } = await import('../../stack/daemon/daemon.js');
      const { NativeBackend } = await import('../../kernel/backend.js');
      const m = kind === 'static' ? await staticMembership(o, nodeId) : await corosyncMembership(o, nodeId);
      const { membership, nodes, clusterName } = m;
      // --root: a fake kernel tree (a directory): no dlm monitor or plock device to open there
      const fakeRoot = o.root !== undefined && o.root !== '/';
      const d = new DlmDaemon({
        backend: new NativeBackend({ root: o.root ?? '/' }),
        ...(fakeRoot ? { monitorPath: null, plockDevice: null } : {}),
        clusterName,
        nodes,
        membership,
        ...(fencing === 'agent' ? { fenceAgent: o.fenceAgent! } : { fencing }),
        fenceTimeoutMs,
        joinTimeoutMs,
        socketPath: o.socket,
        ...(o.liveness === 'tcp' && kind === 'static' ? { liveness: { port: probePort, deadMs: probeDeadMs } } : {}),
        legacy: o.legacy === true,
        plocks: o.plocks !== false,
        // a static cluster of one node has its process groups in this process: lockspace groups and
        // POSIX locks work as on corosync; with more nodes static members cannot share groups
        ...(kind === 'static' && nodes.length === 1 ? { groups: true } : {}),
        startupFencing: o.startupFencing !== false,
        postJoinDelayMs,
      });
      await runUntilStopped(d);
    });

  program
    .command('lockspaces')
    .description("the daemon's lockspaces (state, members) from its control socket")
    .option('--socket <path>', 'control socket', '/run/o2stack.sock')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { socket: string }>();
      const { request } = await import('../../stack/daemon/controlSocket.js');
      const list = (await request(o.socket, 'lockspaces')) as { name: string; state: string; members: number[]; since: number; waitingFor?: string }[];
      if (o.json) return printJson({ lockspaces: list });
      if (list.length === 0) return void writeOut('no lockspaces\n');
      for (const l of list) writeOut(`${l.name}  ${l.state.padEnd(8)} members ${l.members.join(',') || '-'}  since ${new Date(l.since).toISOString()}${l.waitingFor ? `  waiting for ${l.waitingFor}` : ''}\n`);
    });

  program
    .command('plocks [uuid]')
    .description("the cluster-wide POSIX locks and waiters of a lockspace (an ocfs2 volume's UUID), or of all, from the running daemon (what dlm_tool plocks shows)")
    .option('--socket <path>', 'control socket', '/run/o2stack.sock')
    .action(async (uuid: string | undefined, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { socket: string }>();
      const { request } = await import('../../stack/daemon/controlSocket.js');
      let spaces: PlockSpaceView[];
      try {
        spaces = (await request(o.socket, uuid ? `plocks ${uuid}` : 'plocks')) as PlockSpaceView[];
      } catch (e) {
        const x = e as Error & { errno?: string };
        if (x.errno === 'ENOENT' || x.errno === 'ECONNREFUSED') throw new CliError(x.message, EXIT.NOT_RUNNING, 'start it: o2stack daemon (or systemctl start o2stack-daemon)');
        if (x.errno === 'EACCES') throw new CliError(x.message, EXIT.NO_PERMISSION, 'run as root');
        throw e;
      }
      if (uuid && spaces.length === 0) throw new CliError(`no lockspace ${uuid} in a process group on this node (o2stack lockspaces lists them)`, EXIT.FAILED);
      if (o.json) return printJson({ plocks: spaces });
      const out: string[] = [];
      for (const sp of spaces) {
        out.push(`${sp.ls} (id ${sp.fsid}, members ${sp.members.join(',')})${sp.synced ? '' : ': table not received yet'}`);
        if (sp.synced && sp.locks.length === 0 && sp.waiters.length === 0) out.push('  no locks');
        // dlm_tool plocks' shape: inode, mode, range, node/pid/owner
        for (const l of sp.locks) out.push(`  ${l.number} ${l.lock.mode.toUpperCase()} ${l.lock.start}-${l.lock.end} nodeid ${l.lock.nodeid} pid ${l.lock.pid} owner ${l.lock.owner}`);
        for (const l of sp.waiters) out.push(`  ${l.number} WAITING ${l.lock.mode.toUpperCase()} ${l.lock.start}-${l.lock.end} nodeid ${l.lock.nodeid} pid ${l.lock.pid} owner ${l.lock.owner}`);
      }
      writeOut(out.length ? out.join('\n') + '\n' : 'no lockspace in a process group on this node\n');
    });

  program
    .command('daemon-ctl <command> [args...]')
    .description('ask the running daemon: status | lockspaces | groups | plocks [UUID] | dump [N] | node-down ID | node-up ID (static) | fence-ack ID')
    .option('--socket <path>', 'control socket', '/run/o2stack.sock')
    .action(async (command: string, args: string[], _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { socket: string }>();
      const { request } = await import('../../stack/daemon/controlSocket.js');
      const r = await request(o.socket, [command, ...args].join(' '));
      if (typeof r === 'string' && !o.json) writeOut(r + '\n');
      else printJson(r);
    });
}

/**
 * The one fence method the daemon was given: never none by accident (an unset variable in a unit
 * file gives an empty --fence-agent, which is refused, not taken as "no fencing"). With none given,
 * a daemon started by Pacemaker (OCF_RESOURCE_INSTANCE or PCMK_service in its environment) fences
 * through Pacemaker's fencer; anywhere else it does not start.
 */
export function fenceMethod(o: { fenceAgent?: string; fenceManual?: boolean; fencePacemaker?: boolean; unsafeSkipFencing?: boolean }, env: Record<string, string | undefined> = {}): 'agent' | 'pacemaker' | 'manual' | 'unsafe-off' {
  const given = [o.fenceAgent !== undefined ? '--fence-agent' : undefined, o.fencePacemaker ? '--fence-pacemaker' : undefined, o.fenceManual ? '--fence-manual' : undefined, o.unsafeSkipFencing ? '--unsafe-skip-fencing' : undefined].filter((x) => x !== undefined);
  if (given.length > 1) throw new CliError(`${given.join(' and ')}: give one fence method`, EXIT.USAGE);
  if (o.fenceAgent !== undefined && o.fenceAgent.trim() === '') {
    throw new CliError('--fence-agent is empty (an unset O2STACK_FENCE in /etc/default/o2stack-daemon?): the daemon does not start without a fence method', EXIT.NOT_CONFIGURED, "set one: --fence-agent PATH (an agent that powers the node off), --fence-pacemaker (Pacemaker's fencer, stonith_admin), or --fence-manual (recovery waits for `o2stack daemon-ctl fence-ack ID`)");
  }
  if (given.length === 0) {
    if (defaultFenceFromEnv(env) === 'pacemaker') return 'pacemaker';
    throw new CliError('no fence method: a dead node must be fenced before its locks are handed out, and the daemon does not start without a way to do it', EXIT.NOT_CONFIGURED, "give one: --fence-agent PATH (node=ID and fail_time=S on stdin, exit 0 = fenced), --fence-pacemaker (Pacemaker's fencer: stonith_admin --fence NODENAME), --fence-manual (recovery waits for `o2stack daemon-ctl fence-ack ID` once the node is surely off), or --unsafe-skip-fencing (tests only: a node cut off but still running corrupts data)");
  }
  return o.fenceAgent !== undefined ? 'agent' : o.fencePacemaker ? 'pacemaker' : o.fenceManual ? 'manual' : 'unsafe-off';
}

type PlockSpaceView = import('../../model/plockSync.js').PlockSpaceView;

/** Tracking beside a running dlm_controld: corosync membership, nothing written to fs/dlm. */
async function besideDlmControld(o: DaemonCliOptions, cmd: Command, controld: { pid: number; how: string }, nodeId: number | undefined): Promise<void> {
  const { TrackingDaemon } = await import('../../stack/daemon/tracking.js');
  const { NativeBackend } = await import('../../kernel/backend.js');
  const { membership, clusterName } = await corosyncMembership(o, nodeId);
  const d = new TrackingDaemon({ backend: new NativeBackend({ root: o.root ?? '/' }), membership, clusterName, socketPath: o.socket });
  d.log('info', 'mode', `dlm_controld is running (pid ${controld.pid}, seen in ${controld.how}): tracking beside it (groups, status), fs/dlm is left to it; --standalone refuses instead`, { pid: controld.pid });
  const unused = ['fenceAgent', 'fenceTimeout', 'joinTimeout', 'liveness', 'probePort', 'probeDead'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
  if (unused.length) d.log('warn', 'options-unused', `ignored beside dlm_controld (it fences, joins and recovers): ${unused.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')}`);
  await runUntilStopped(d);
}

/**
 * Starts a daemon and returns once it has stopped: SIGINT/SIGTERM stop it; a refusal to start is
 * exit 1 with its reason. Every signal is handled, not just the first: stop() refuses while
 * legacy-mode volumes are mounted (closing the control device then restarts the machine), so the
 * daemon runs on and a later signal tries again.
 */
async function runUntilStopped(d: { start(): Promise<void>; stop(): Promise<unknown>; closed: Promise<void>; exitError?: Error | undefined }): Promise<void> {
  const stop = () => void d.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await d.start();
  } catch (e) {
    await d.stop().catch(() => undefined);
    throw e instanceof Error && (e as { code?: string }).code === 'E_DAEMON_REFUSED' ? new CliError(e.message, EXIT.FAILED) : e;
  }
  await d.closed;
  // stopped by itself (membership lost): exit 1, so systemd or the cluster manager sees the failure
  if (d.exitError) throw new CliError(d.exitError.message, EXIT.FAILED);
}

type DaemonMembership = {
  membership: import('../../model/membership.js').MembershipSource;
  nodes: import('../../model/dlmDaemon.js').DaemonModelConfig['nodes'];
  clusterName: string;
};

async function staticMembership(o: DaemonCliOptions, nodeId: number | undefined): Promise<DaemonMembership> {
  if (!o.cluster) throw new CliError('--cluster NAME is needed (the cluster name the volumes were made with)', EXIT.USAGE);
  const { parseMembersFile } = await import('../../model/dlmDaemon.js');
  const { pickLocalNode, readMembers } = await import('../../stack/daemon/daemon.js');
  const { StaticMembership } = await import('../../stack/membership/static.js');
  let nodes;
  try {
    nodes = parseMembersFile(readMembers(o.members!));
  } catch (e) {
    throw new CliError(`${o.members}: ${(e as Error).message}`, EXIT.NOT_CONFIGURED);
  }
  let local: number;
  try {
    local = pickLocalNode(nodes, nodeId, hostname());
  } catch (e) {
    throw new CliError(`${o.members}: ${(e as Error).message}`, EXIT.NOT_CONFIGURED);
  }
  // two nodes: corosync's two_node rule (one survivor keeps quorum); otherwise a majority
  const membership = StaticMembership.standalone({
    localNodeId: local,
    nodes: nodes.map((n) => ({ nodeid: n.nodeid, ...(n.name ? { name: n.name } : {}), addr: n.addresses[0]! })),
    quorum: nodes.length <= 2 ? 'always' : 'majority',
  });
  return { membership, nodes, clusterName: o.cluster };
}

async function corosyncMembership(o: DaemonCliOptions, nodeId: number | undefined): Promise<DaemonMembership> {
  const { corosyncDaemonSetup, CorosyncUnreachable, DaemonCorosyncError } = await import('../../stack/daemon/corosyncSetup.js');
  try {
    const { membership, setup } = await corosyncDaemonSetup({ ...(o.cluster !== undefined ? { clusterName: o.cluster } : {}), ...(nodeId !== undefined ? { nodeId } : {}) });
    return { membership, nodes: setup.nodes, clusterName: setup.clusterName };
  } catch (e) {
    if (e instanceof CorosyncUnreachable) throw new CliError(e.message, EXIT.NOT_RUNNING, e.hint, { code: e.code });
    if (e instanceof DaemonCorosyncError) throw new CliError(e.message, e.code === 'E_CLUSTER_NAME' || e.code === 'E_NODE_ID' ? EXIT.FAILED : EXIT.NOT_CONFIGURED, e.hint, { code: e.code });
    const x = e as { code?: string; message?: string; hint?: string };
    if (x.code === 'E_NO_COROSYNC') throw new CliError(`${x.message}`, EXIT.NOT_INSTALLED, 'apt-get install corosync (it brings libcpg4, libquorum5 and libcmap4; no rebuild needed); or use --membership static --members FILE', { code: x.code });
    throw e;
  }
}
