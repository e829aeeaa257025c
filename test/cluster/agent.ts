// The cluster test's agent: runs INSIDE one node's network namespace
//   ip netns exec cs-n1 node --import tsx test/cluster/agent.ts
// because corosync's IPC (libqb, abstract unix sockets) is per network namespace: only a process
// in the node's namespace reaches that node's corosync.
//
// Protocol: one JSON object per line.
//   stdin   {"id": 1, "cmd": "start"}                       requests
//   stdout  {"id": 1, "ok": true, "result": ...}            replies (or "ok": false, "error")
//           {"event": "members", "t": 1712.5, "data": ...}  membership events as they happen
// t is performance.timeOrigin + performance.now() (ms since the epoch, sub-ms): comparable
// across processes on one host, so the test can time how long a failure took to be seen.
// The agent exits when stdin closes.
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { CpgGroup, readCmap, readCorosyncConfig } from '../../lib/kernel/corosync.js';
import { CorosyncMembership } from '../../lib/stack/membership/corosync.js';

const now = () => performance.timeOrigin + performance.now();
const out = (o: unknown) => process.stdout.write(JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');

let source: CorosyncMembership | undefined;
let worker: Worker | undefined;

function wire(s: CorosyncMembership): void {
  s.on('members', (e) => out({ event: 'members', t: now(), data: e }));
  s.on('message', (m) => out({ event: 'message', t: now(), data: { group: m.group, nodeid: m.nodeid, pid: m.pid, text: m.data.toString('utf8') } }));
  s.on('quorum', (q) => out({ event: 'quorum', t: now(), data: q }));
  s.on('down', (e) => out({ event: 'down', t: now(), data: { message: e.message, code: (e as { code?: string }).code } }));
}

function need(): CorosyncMembership {
  if (!source) throw new Error('start first');
  return source;
}

type Req = { id: number; cmd: string; group?: string; data?: string; prefix?: string; count?: number };

async function handle(r: Req): Promise<unknown> {
  switch (r.cmd) {
    case 'start': {
      const s = new CorosyncMembership();
      wire(s);
      await s.start();
      source = s;
      return { pid: process.pid, localNodeId: s.localNodeId(), quorum: s.quorum(), clusterNodes: s.clusterNodes() };
    }
    case 'config':
      return readCorosyncConfig();
    case 'cmap':
      return readCmap(r.prefix ?? '');
    case 'probe': {
      // A bare CPG connection attempt, one try: does a corosync answer in this namespace?
      const g = await CpgGroup.join('o2s:probe', { attempts: 1 });
      const id = g.localNodeId;
      g.close();
      return { localNodeId: id };
    }
    case 'join':
      await need().joinGroup(String(r.group));
      return null;
    case 'leave':
      await need().leaveGroup(String(r.group));
      return null;
    case 'send':
      await need().send(String(r.group), String(r.data));
      return null;
    case 'sendMany': {
      // count messages "<prefix><i>" fired without waiting for each other: the membership
      // source must keep them in order through flow control.
      const s = need();
      const n = Math.min(Number(r.count ?? 0), 10000);
      await Promise.all(Array.from({ length: n }, (_x, i) => s.send(String(r.group), `${r.prefix ?? ''}${i}`)));
      return { sent: n };
    }
    case 'members':
      return need().members(String(r.group));
    case 'quorum':
      return need().quorum();
    case 'workerStart': {
      // A CPG group joined from a Worker thread (its own event loop); events come back as
      // {event: 'worker'} lines.
      const w = new Worker(new URL('./agent-worker.mjs', import.meta.url), { workerData: { group: String(r.group) } });
      worker = w;
      return new Promise((resolve, reject) => {
        w.on('message', (m: { type: string }) => {
          out({ event: 'worker', t: now(), data: m });
          if (m.type === 'joined') resolve(m);
        });
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited (${code}) before joining`)));
      });
    }
    case 'workerSend':
      worker?.postMessage({ send: String(r.data) });
      return null;
    case 'workerTerminate': {
      const code = await worker?.terminate();
      worker = undefined;
      return { code };
    }
    case 'close':
      await source?.close();
      source = undefined;
      return null;
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
      const x = e as Error & { code?: string; hint?: string; call?: string; csError?: number };
      out({ id: r.id, ok: false, error: { name: x.name, message: x.message, code: x.code, hint: x.hint, call: x.call, csError: x.csError } });
    },
  );
});
rl.on('close', () => {
  void (source?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
out({ event: 'ready', t: now(), data: { pid: process.pid } });
