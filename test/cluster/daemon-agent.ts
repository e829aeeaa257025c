// The daemon test's agent: runs the o2stack daemon's logic (DlmDaemon with CorosyncMembership, as
// `o2stack daemon --membership corosync` builds it) INSIDE one node's network namespace, against a
// fake kernel tree (NativeBackend fakeTree), with lockspace uevents injected (InjectedUevents: the
// host has no dlm lockspaces to make real ones, and fs/dlm uevents are not synthesisable).
// Same line protocol as agent.ts:
//   {"id":1,"cmd":"start","root":DIR,"socket":PATH,"fenceAgent":PATH}   daemon started (READY)
//   {"id":2,"cmd":"mount","ls":LS}     the "kernel" makes the lockspace and sends online
//   {"id":3,"cmd":"umount","ls":LS}    ... and offline
//   events: {"event":"log","data":<daemon log entry>}, {"event":"group","data":<GroupEvent>}
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { corosyncDaemonSetup } from '../../lib/stack/daemon/corosyncSetup.js';
import { DlmDaemon } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';

const now = () => performance.timeOrigin + performance.now();
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

let daemon: DlmDaemon | undefined;
let uevents: InjectedUevents | undefined;
let root = '';

type Req = { id: number; cmd: string; root?: string; socket?: string; fenceAgent?: string; ls?: string; node?: string };

async function handle(r: Req): Promise<unknown> {
  switch (r.cmd) {
    case 'start': {
      root = String(r.root);
      mkdirSync(join(root, 'sys/kernel/config/dlm'), { recursive: true });
      const { membership, setup } = await corosyncDaemonSetup({});
      uevents = new InjectedUevents();
      const d = new DlmDaemon({
        backend: new NativeBackend({ root, fakeTree: true }),
        clusterName: setup.clusterName,
        nodes: setup.nodes,
        membership,
        monitorPath: null,
        uevents,
        socketPath: String(r.socket),
        fenceAgent: String(r.fenceAgent),
        fenceArgs: { by: String(r.node) },
        fenceTimeoutMs: 10000,
        joinTimeoutMs: 30000,
        log: () => undefined,
      });
      d.on('log', (e) => out({ event: 'log', t: now(), data: e }));
      d.on('group', (g) => out({ event: 'group', t: now(), data: g }));
      await d.start();
      daemon = d;
      return { pid: process.pid, clusterName: setup.clusterName, localNodeId: setup.localNodeId, nodes: setup.nodes };
    }
    case 'mount': {
      const ls = String(r.ls);
      mkdirSync(join(root, 'sys/kernel/dlm', ls), { recursive: true });
      rmSync(join(root, 'sys/kernel/dlm', ls, 'event_done'), { force: true });
      uevents!.lockspace('online', ls);
      return null;
    }
    case 'umount': {
      const ls = String(r.ls);
      rmSync(join(root, 'sys/kernel/dlm', ls, 'event_done'), { force: true });
      uevents!.lockspace('offline', ls);
      return null;
    }
    case 'status':
      return daemon!.status();
    default:
      throw new Error(`unknown command ${r.cmd}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let r: Req;
  try {
    r = JSON.parse(line) as Req;
  } catch {
    out({ id: -1, ok: false, error: { message: `bad request line: ${line.slice(0, 200)}` } });
    return;
  }
  handle(r).then(
    (result) => out({ id: r.id, ok: true, result }),
    (e: unknown) => {
      const x = e as Error & { code?: string; hint?: string };
      out({ id: r.id, ok: false, error: { name: x.name, message: x.message, code: x.code, hint: x.hint } });
    },
  );
});
rl.on('close', () => {
  void (daemon?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
out({ event: 'ready', t: now(), data: { pid: process.pid } });
