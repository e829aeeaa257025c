// fast-check arbitraries for valid cluster models (shared by the format round-trip tests).
import fc from 'fast-check';
import { isValidNodeName, type ClusterConfig, type NodeConfig, type Timeouts } from '../../lib/model/cluster.js';

export interface ArbOptions {
  /** Only [A-Za-z0-9._-] node names (for external tools and formats with a narrower alphabet). */
  o2cbNames?: boolean;
  /** Node numbers from 1 (corosync reserves nodeid 0). */
  minNumber?: number;
  /** Only the fields every format carries: local heartbeat, no timeouts, no fence method. */
  nodesOnly?: boolean;
}

const simpleName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/);
// Any name the model accepts and cluster.conf can hold (no trailing backslash: a continuation there).
const anyName = fc.oneof(simpleName, fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).filter((s) => isValidNodeName(s) && !s.endsWith('\\') && !/[\x00-\x1f\x7f]/.test(s)));

const ipv4 = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));

export function arbNodes(opts: ArbOptions = {}): fc.Arbitrary<NodeConfig[]> {
  const node = fc.record({
    name: opts.o2cbNames ? simpleName.filter(isValidNodeName) : anyName,
    number: fc.integer({ min: opts.minNumber ?? 0, max: 254 }),
    ipAddress: ipv4,
    port: fc.oneof(fc.constant(7777), fc.integer({ min: 1, max: 65534 })),
  });
  return fc
    .uniqueArray(node.map((n) => ({ ...n })), { minLength: 1, maxLength: 8, selector: (n) => n.name })
    .filter((ns) => new Set(ns.map((n) => n.number)).size === ns.length && new Set(ns.map((n) => n.ipAddress)).size === ns.length);
}

const timeouts: fc.Arbitrary<Timeouts> = fc
  .record(
    {
      heartbeatDeadThreshold: fc.integer({ min: 3, max: 1000 }),
      idleTimeoutMs: fc.integer({ min: 2, max: 600000 }),
      keepaliveDelayMs: fc.integer({ min: 1, max: 600000 }),
      reconnectDelayMs: fc.integer({ min: 1, max: 600000 }),
    },
    { requiredKeys: [] },
  )
  .map((t) => ({ ...t }))
  .filter((t) => (t.keepaliveDelayMs ?? 2000) < (t.idleTimeoutMs ?? 30000));

const region = fc.stringMatching(/^[0-9A-F]{32}$/);

export function arbCluster(opts: ArbOptions = {}): fc.Arbitrary<ClusterConfig> {
  const name = fc.stringMatching(/^[A-Za-z0-9]{1,16}$/);
  if (opts.nodesOnly) {
    return fc.record({ name, nodes: arbNodes(opts) }).map((r) => ({ name: r.name, nodes: r.nodes, heartbeatMode: 'local' as const, heartbeatRegions: [], timeouts: {} }));
  }
  return fc
    .record({
      name,
      nodes: arbNodes(opts),
      global: fc.boolean(),
      regions: fc.uniqueArray(region, { maxLength: 4 }),
      timeouts,
      fence: fc.option(fc.constantFrom('reset' as const, 'panic' as const), { nil: undefined }),
    })
    .map(({ name, nodes, global, regions, timeouts, fence }) => {
      const c: ClusterConfig = { name, nodes, heartbeatMode: global ? 'global' : 'local', heartbeatRegions: global ? regions : [], timeouts };
      if (fence !== undefined) c.fenceMethod = fence;
      return c;
    });
}
