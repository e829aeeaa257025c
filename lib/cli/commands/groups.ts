// o2stack groups: which nodes have each lockspace (an ocfs2 volume, named by its UUID) mounted,
// cluster-wide, as the running daemon sees it (lockspace process groups, daemon-group announcements).
import type { Command } from 'commander';
import { printJson, writeOut, type GlobalOptions } from '../output.js';

interface GroupRow {
  uuid: string;
  nodes: number[];
  state: string;
}

export function register(program: Command): void {
  program
    .command('groups')
    .description('every volume (lockspace UUID) mounted in the cluster and the nodes that have it, from the running daemon (corosync membership)')
    .option('--socket <path>', 'control socket of o2stack daemon', '/run/o2stack.sock')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { socket: string }>();
      const { request } = await import('../../stack/daemon/controlSocket.js');
      // no daemon: exit 3, no permission: 4 (the request's error codes, lib/cli/output.ts)
      const rows = (await request(o.socket, 'groups')) as GroupRow[];
      if (o.json) return printJson({ groups: rows });
      if (rows.length === 0) return void writeOut('no volume is mounted on any node the daemon hears from\n');
      for (const g of rows) writeOut(`${g.uuid}  mounted on node ${g.nodes.join(',')}  (this node: ${g.state})\n`);
    });
}
