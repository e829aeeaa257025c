// A Worker thread of the cluster agent: joins a CPG group with the addon's corosync surface from
// the worker's own event loop (the addon must poll on the worker's uv loop, not the main one) and
// reports its events to the agent's main thread. Terminating the worker tears its env down, and
// the addon's env cleanup hook must then finalize the connection: the others see 'procdown'.
// Plain JavaScript: Node 20 applies no --import loader (tsx) to a worker's entry.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
// The raw addon (as lib/kernel/native.ts finds it); its corosync surface dlopens corosync's
// libraries on load() (process-wide: quick when the main thread already did).
const addon = process.env.O2STACK_ADDON ? require(process.env.O2STACK_ADDON) : require('node-gyp-build')(new URL('../..', import.meta.url).pathname);
const cs = addon.corosync;
const why = cs.load();
if (why !== undefined) throw new Error(`corosync support unavailable: ${why}`);
const port = parentPort;
const { group } = workerData;

const h = cs.cpgOpen((events) => {
  for (const e of events) {
    if (e.type === 'confchg') port.postMessage({ type: 'confchg', members: e.members, joined: e.joined, left: e.left });
    else if (e.type === 'message') port.postMessage({ type: 'message', nodeid: e.nodeid, text: e.data.toString('utf8') });
    else if (e.type === 'down') port.postMessage({ type: 'down', code: e.error.code });
  }
});
// Bounded retries of CS_ERR_TRY_AGAIN (corosync syncing), from a timer.
for (let i = 0; ; i++) {
  try {
    cs.cpgJoin(h, group);
    break;
  } catch (e) {
    if (e.code !== 'CS_ERR_TRY_AGAIN' || i >= 50) throw e;
    await new Promise((r) => setTimeout(r, 100));
  }
}
port.on('message', (m) => {
  if (m.send !== undefined) cs.cpgSend(h, m.send);
});
port.postMessage({ type: 'joined', localNodeId: cs.cpgLocalNodeId(h), info: cs.info(h) });
