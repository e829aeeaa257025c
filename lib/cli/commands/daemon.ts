// o2stack daemon: the user stack's fs/dlm control daemon in standalone mode (no dlm_controld), in
// the foreground, one JSON line per event on stderr. o2stack lockspaces / daemon-ctl talk to it
// over its control socket.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { CliError, EXIT, printJson, type GlobalOptions } from '../output.js';

interface DaemonCliOptions extends GlobalOptions {
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
}

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the fs/dlm control daemon for the user stack (standalone, no dlm_controld) in the foreground; logs JSON lines to stderr')
    .option('--members <file>', 'static membership: one node a line, NAME=ID@ADDR[,ADDR...] (all listed nodes are members)')
    .option('--node-id <id>', 'this node (default: the members-file entry named like this host)')
    .option('--cluster <name>', 'cluster name (must match the volumes: mkfs.ocfs2 --cluster-name)')
    .option('--fence-agent <path>', 'fence agent: gets node=ID and fail_time=SECONDS lines on stdin, exit 0 = fenced')
    .option('--fence-timeout <ms>', 'time limit of one fence agent run', '60000')
    .option('--join-timeout <ms>', 'a lockspace join that waits (quorum, fencing) longer is answered -ETIMEDOUT', '120000')
    .option('--socket <path>', 'control socket (mode 0600)', '/run/o2stack.sock')
    .option('--liveness <kind>', "how a static member is found dead: 'tcp' (probe the peers' daemons) or 'none' (only `daemon-ctl node-down ID`)", 'tcp')
    .option('--probe-port <port>', 'TCP port of the liveness probe', '21065')
    .option('--probe-dead <ms>', 'a peer silent this long after answering once is dead', '5000')
    .option('--legacy', 'legacy WITH_CONTROLD mode (recover_callbacks 0): refused, with the reason')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<DaemonCliOptions>();
      if (!o.members) throw new CliError('--members FILE is needed: membership from corosync is not wired into the daemon yet (lib/stack/membership/corosync.ts exists; the daemon takes any MembershipSource)', EXIT.USAGE);
      if (!o.cluster) throw new CliError('--cluster NAME is needed (the cluster name the volumes were made with)', EXIT.USAGE);
      const { parseMembersFile } = await import('../../model/dlmDaemon.js');
      const { DlmDaemon, pickLocalNode, readMembers } = await import('../../stack/daemon/daemon.js');
      const { StaticMembership } = await import('../../stack/membership/static.js');
      const { NativeBackend } = await import('../../kernel/backend.js');
      let nodes;
      try {
        nodes = parseMembersFile(readMembers(o.members));
      } catch (e) {
        throw new CliError(`${o.members}: ${(e as Error).message}`, EXIT.NOT_CONFIGURED);
      }
      const local = pickLocalNode(nodes, o.nodeId === undefined ? undefined : Number(o.nodeId), hostname());
      // two nodes: corosync's two_node rule (one survivor keeps quorum); otherwise a majority
      const membership = StaticMembership.standalone({
        localNodeId: local,
        nodes: nodes.map((n) => ({ nodeid: n.nodeid, ...(n.name ? { name: n.name } : {}), addr: n.addresses[0]! })),
        quorum: nodes.length <= 2 ? 'always' : 'majority',
      });
      if (o.liveness !== 'tcp' && o.liveness !== 'none') throw new CliError(`--liveness ${o.liveness}: tcp or none`, EXIT.USAGE);
      const d = new DlmDaemon({
        backend: new NativeBackend({ root: o.root ?? '/' }),
        clusterName: o.cluster,
        nodes,
        membership,
        ...(o.fenceAgent ? { fenceAgent: o.fenceAgent } : {}),
        fenceTimeoutMs: Number(o.fenceTimeout),
        joinTimeoutMs: Number(o.joinTimeout),
        socketPath: o.socket,
        ...(o.liveness === 'tcp' ? { liveness: { port: Number(o.probePort), deadMs: Number(o.probeDead) } } : {}),
        legacy: o.legacy === true,
      });
      const stop = () => void d.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await d.start();
      } catch (e) {
        await d.stop().catch(() => undefined);
        throw e instanceof Error && (e as { code?: string }).code === 'E_DAEMON_REFUSED' ? new CliError(e.message, EXIT.FAILED) : e;
      }
      await d.closed;
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
      if (list.length === 0) return void process.stdout.write('no lockspaces\n');
      for (const l of list) process.stdout.write(`${l.name}  ${l.state.padEnd(8)} members ${l.members.join(',') || '-'}  since ${new Date(l.since).toISOString()}${l.waitingFor ? `  waiting for ${l.waitingFor}` : ''}\n`);
    });

  program
    .command('daemon-ctl <command> [args...]')
    .description('ask the running daemon: status | lockspaces | dump [N] | node-down ID | node-up ID | fence-ack ID')
    .option('--socket <path>', 'control socket', '/run/o2stack.sock')
    .action(async (command: string, args: string[], _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { socket: string }>();
      const { request } = await import('../../stack/daemon/controlSocket.js');
      const r = await request(o.socket, [command, ...args].join(' '));
      if (typeof r === 'string' && !o.json) process.stdout.write(r + '\n');
      else printJson(r);
    });
}
