// An in-memory simulation of the o2nm/o2hb configfs, with the kernel's refusals
// (docs/kernel-interfaces.md#o2nm, #o2hb; Debian 6.1). It implements KernelBackend so plans and
// applies can be tested without a kernel. Which attributes exist, their defaults, units, ranges
// and rules (write-once, requires, unique, below, fixed while connected, ignored while regions
// exist) come from the attribute table (model/o2nmAttributes.ts); the kernel's parsing and the
// local-node and heartbeat-region state machines are modelled here. Its rules are checked against the real kernel by the
// contract suite that runs on both (test/contract/o2nm.contract.ts,
// test/vm/suites/o2nm-contract.vm.ts).
import { type O2nmAttribute, type O2nmAttributeTable, type O2nmValue, O2NM_ATTRIBUTES, attributesOf, formatKernelValue } from '../model/o2nmAttributes.js';
import { KernelError } from './errors.js';
import type { AttrOp, BatchResult, DirEntry, KernelBackend } from './backend.js';
import { BatchError } from './backend.js';

const ROOT = '/sys/kernel/config/cluster';

interface SimNode {
  /** the directory's inode number (a new one per mkdir, as configfs) */
  ino: number;
  /** attribute name → value, for the attributes written (the rest read as their default) */
  values: Map<string, O2nmValue>;
}

interface SimRegion {
  blockBytes: number;
  startBlock: number;
  blocks: number;
  dev: string;
  pid: number;
}

interface SimCluster {
  name: string;
  /** cluster attribute name → value (the table's defaults on mkdir) */
  values: Map<string, O2nmValue>;
  nodes: Map<string, SimNode>;
  regions: Map<string, SimRegion>;
  hasLocal: boolean;
  localNum: number;
}

export interface SimOptions {
  /** configfs mounted and ocfs2_nodemanager loaded (default true) */
  loaded?: boolean;
  /** IPv4 addresses of "this host": setting `local` on a node with another address gives EADDRNOTAVAIL (default: any) */
  hostAddresses?: string[];
  /** the attribute table (default O2NM_ATTRIBUTES; tests pass a changed copy) */
  attributes?: O2nmAttributeTable;
}

const err = (code: string, errno: number, syscall: string, path: string) => new KernelError({ code, errno: -errno, syscall, path });
const E = {
  ENOENT: 2, EIO: 5, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28, EPERM: 1,
  ERANGE: 34, ENAMETOOLONG: 36, ENOTEMPTY: 39, EADDRNOTAVAIL: 99,
} as const;

/** strtoul(base 0) followed by nothing or one "\n", as the o2nm attribute stores parse. */
function parseUl(s: string): number | 'invalid' | 'range' {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\n?$/.exec(s);
  if (!m) return 'invalid';
  const t = m[1]!;
  const v = t.startsWith('0x') || t.startsWith('0X') ? Number.parseInt(t.slice(2), 16) : t.length > 1 && t.startsWith('0') ? Number.parseInt(t, 8) : Number(t);
  return v > 0xffffffffffffffff || !Number.isFinite(v) ? 'range' : v;
}

export class SimBackend implements KernelBackend {
  readonly description = 'simulated configfs';
  loaded: boolean;
  hostAddresses?: Set<string>;
  clusters = new Map<string, SimCluster>();
  /** module-global o2hb settings (heartbeat/ attributes): name → value */
  readonly heartbeat: Map<string, O2nmValue>;
  private readonly attrs: Record<'cluster' | 'heartbeat' | 'node' | 'region', Map<string, O2nmAttribute>>;
  /** nodes o2net is connected to (pinned: rmdir → EBUSY) */
  connected = new Set<string>();
  /** every mutating operation, for tests */
  log: string[] = [];
  private nextPid = 1000;
  private nextIno = 5000;
  readonly stableInodes = true;

  constructor(options: SimOptions = {}) {
    this.loaded = options.loaded ?? true;
    if (options.hostAddresses) this.hostAddresses = new Set(options.hostAddresses);
    const table = options.attributes ?? O2NM_ATTRIBUTES;
    const byName = (o: 'cluster' | 'heartbeat' | 'node' | 'region') => new Map(attributesOf(o, table).map((a) => [a.name, a as O2nmAttribute]));
    this.attrs = { cluster: byName('cluster'), heartbeat: byName('heartbeat'), node: byName('node'), region: byName('region') };
    this.heartbeat = new Map([...this.attrs.heartbeat.values()].map((a) => [a.name, a.default]));
  }

  /** o2hb's dead threshold (module-wide) */
  get deadThreshold(): number {
    return Number(this.heartbeat.get('dead_threshold'));
  }

  /** o2hb's heartbeat mode (module-wide) */
  get hbMode(): string {
    return String(this.heartbeat.get('mode'));
  }

  private nodeValue(n: SimNode, name: string): O2nmValue | undefined {
    return n.values.get(name) ?? this.attrs.node.get(name)?.default;
  }

  private split(path: string): string[] | undefined {
    if (!this.loaded) return undefined;
    if (path === ROOT) return [];
    if (!path.startsWith(ROOT + '/')) return undefined;
    return path.slice(ROOT.length + 1).split('/');
  }

  private cluster(name: string | undefined): SimCluster | undefined {
    return name === undefined ? undefined : this.clusters.get(name);
  }

  // ---- reads -------------------------------------------------------------------------------
  read(path: string): string {
    const v = this.readValue(path);
    if (v === undefined) throw err('ENOENT', E.ENOENT, 'open', path);
    if (v === null) throw err('EISDIR', E.EISDIR, 'read', path);
    return v;
  }

  /** string for an attribute, null for a directory, undefined when absent */
  private readValue(path: string): string | null | undefined {
    const p = this.split(path);
    if (!p) return path === '/sys/kernel/config' && this.loaded ? null : undefined;
    if (p.length === 0) return null;
    const c = this.cluster(p[0]);
    if (!c) return undefined;
    if (p.length === 1) return null;
    const [, a, b, d] = p;
    if (p.length === 2) {
      if (a === 'node' || a === 'heartbeat') return null;
      const attr = this.attrs.cluster.get(a!);
      return attr ? formatKernelValue(attr, c.values.get(attr.name)!) : undefined;
    }
    if (a === 'node') {
      const n = c.nodes.get(b!);
      if (!n) return undefined;
      if (p.length === 3) return null;
      if (p.length > 4) return undefined;
      const attr = this.attrs.node.get(d!);
      return attr ? formatKernelValue(attr, this.nodeValue(n, attr.name)!) : undefined;
    }
    if (a === 'heartbeat') {
      if (p.length === 3) {
        const attr = this.attrs.heartbeat.get(b!);
        if (attr) return formatKernelValue(attr, this.heartbeat.get(attr.name)!);
        return c.regions.has(b!) ? null : undefined;
      }
      const r = c.regions.get(b!);
      if (!r || p.length > 4) return undefined;
      switch (d) {
        case 'block_bytes': return `${r.blockBytes}\n`;
        case 'start_block': return `${r.startBlock}\n`;
        case 'blocks': return `${r.blocks}\n`;
        case 'dev': return r.dev ? `${r.dev}\n` : '';
        case 'pid': return r.dev ? `${r.pid}\n` : '';
        default: return undefined;
      }
    }
    return undefined;
  }

  tryRead(path: string): string | undefined {
    const v = this.readValue(path);
    return typeof v === 'string' ? v : undefined;
  }

  list(path: string): DirEntry[] {
    const v = this.readValue(path);
    if (v === undefined) throw err('ENOENT', E.ENOENT, 'opendir', path);
    if (v !== null) throw err('ENOTDIR', E.ENOTDIR, 'opendir', path);
    if (path === '/sys/kernel/config') return [{ name: 'cluster', type: 'dir' }];
    const p = this.split(path)!;
    const dirs = (names: Iterable<string>) => [...names].map((name) => ({ name, type: 'dir' as const }));
    const files = (names: string[]) => names.map((name) => ({ name, type: 'file' as const }));
    if (p.length === 0) return dirs(this.clusters.keys());
    const c = this.cluster(p[0])!;
    const names = (o: 'cluster' | 'heartbeat' | 'node' | 'region') => [...this.attrs[o].keys()];
    if (p.length === 1) return [...files(names('cluster')), ...dirs(['node', 'heartbeat'])];
    if (p[1] === 'node' && p.length === 2) return [...c.nodes].map(([name, n]) => ({ name, type: 'dir' as const, ino: n.ino }));
    if (p[1] === 'node') return files(names('node'));
    if (p.length === 2) return [...files(names('heartbeat')), ...dirs(c.regions.keys())];
    return files(names('region'));
  }

  tryList(path: string): DirEntry[] | undefined {
    try {
      return this.list(path);
    } catch {
      return undefined;
    }
  }

  exists(path: string): boolean {
    return this.readValue(path) !== undefined;
  }

  // ---- directories -------------------------------------------------------------------------
  mkdir(path: string): void {
    const p = this.split(path);
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (!p || p.length === 0) throw err(this.readValue(path) !== undefined ? 'EEXIST' : 'ENOENT', this.readValue(path) !== undefined ? E.EEXIST : E.ENOENT, 'mkdir', path);
    if (this.readValue(path) !== undefined) throw err('EEXIST', E.EEXIST, 'mkdir', path);
    if (this.readValue(parent) !== null) throw err('ENOENT', E.ENOENT, 'mkdir', path);
    const name = p[p.length - 1]!;
    if (p.length === 1) {
      if (this.clusters.size > 0) throw err('ENOSPC', E.ENOSPC, 'mkdir', path);
      const values = new Map([...this.attrs.cluster.values()].map((a) => [a.name, a.default]));
      this.clusters.set(name, { name, values, nodes: new Map(), regions: new Map(), hasLocal: false, localNum: -1 });
    } else if (p.length === 3 && p[1] === 'node') {
      if (Buffer.byteLength(name) > 64) throw err('ENAMETOOLONG', E.ENAMETOOLONG, 'mkdir', path);
      this.cluster(p[0])!.nodes.set(name, { ino: this.nextIno++, values: new Map() });
    } else if (p.length === 3 && p[1] === 'heartbeat') {
      const c = this.cluster(p[0])!;
      if (Buffer.byteLength(name) > 32) throw err('ENAMETOOLONG', E.ENAMETOOLONG, 'mkdir', path);
      if (this.hbMode === 'global' && c.regions.size >= 32) throw err('EFBIG', E.EFBIG, 'mkdir', path);
      c.regions.set(name, { blockBytes: 0, startBlock: 0, blocks: 0, dev: '', pid: 0 });
    } else {
      throw err('EPERM', E.EPERM, 'mkdir', path);
    }
    this.log.push(`mkdir ${path}`);
  }

  rmdir(path: string): void {
    const p = this.split(path);
    const v = this.readValue(path);
    if (v === undefined) throw err('ENOENT', E.ENOENT, 'rmdir', path);
    if (v !== null) throw err('ENOTDIR', E.ENOTDIR, 'rmdir', path);
    if (!p || p.length === 0) throw err('EBUSY', E.EBUSY, 'rmdir', path);
    const c = this.cluster(p[0])!;
    if (p.length === 1) {
      if (c.nodes.size || c.regions.size) throw err('ENOTEMPTY', E.ENOTEMPTY, 'rmdir', path);
      this.clusters.delete(c.name);
    } else if (p.length === 3 && p[1] === 'node') {
      const n = c.nodes.get(p[2]!)!;
      const local = n.values.get('local') === true;
      const hbRunning = [...c.regions.values()].some((r) => r.dev !== '');
      if ((local && hbRunning) || this.connected.has(p[2]!)) throw err('EBUSY', E.EBUSY, 'rmdir', path);
      if (local && c.hasLocal && c.localNum === n.values.get('num')) c.hasLocal = false;
      c.nodes.delete(p[2]!);
    } else if (p.length === 3 && p[1] === 'heartbeat') {
      c.regions.delete(p[2]!);
    } else {
      throw err('EPERM', E.EPERM, 'rmdir', path);
    }
    this.log.push(`rmdir ${path}`);
  }

  // ---- attribute stores --------------------------------------------------------------------
  write(path: string, data: string | Buffer): void {
    const s = typeof data === 'string' ? data : data.toString('latin1');
    const v = this.readValue(path);
    if (v === undefined) throw err('ENOENT', E.ENOENT, 'open', path);
    if (v === null) throw err('EISDIR', E.EISDIR, 'open', path);
    if (s.length === 0) throw err('EFAULT', E.EFAULT, 'write', path);
    const fail = (code: keyof typeof E) => err(code, E[code], 'write', path);
    const p = this.split(path)!;
    const c = this.cluster(p[0])!;
    const num = () => {
      const x = parseUl(s);
      if (x === 'invalid') throw fail('EINVAL');
      if (x === 'range') throw fail('ERANGE');
      return x;
    };
    const connectedPeers = this.connected.size > 0;
    if (p.length === 2) {
      const a = this.attrs.cluster.get(p[1]!);
      if (!a) throw fail('EINVAL');
      const x = this.parseStore(a, s, fail, num);
      const value = (name: string) => c.values.get(name);
      // keepalive < idle after every store, whichever of the two is written
      if (a.below !== undefined && Number(x) >= Number(value(a.below))) throw fail('EINVAL');
      for (const other of this.attrs.cluster.values()) if (other.below === a.name && Number(x) <= Number(value(other.name))) throw fail('EINVAL');
      if (a.fixedWhileConnected && connectedPeers && x !== value(a.name)) throw fail('EINVAL');
      c.values.set(a.name, x);
    } else if (p[1] === 'node') {
      this.writeNode(c, p[2]!, p[3]!, s, fail, num);
    } else if (p.length === 3) {
      const a = this.attrs.heartbeat.get(p[2]!);
      if (!a) throw fail('EINVAL');
      const x = this.parseHeartbeat(a, s, fail);
      // accepted and ignored while a region exists (and a count below the minimum is ignored), as the kernel does
      if (x !== undefined && !(a.ignoredWhileRegions && c.regions.size > 0)) this.heartbeat.set(a.name, x);
    } else {
      this.writeRegion(c, c.regions.get(p[2]!)!, p[3]!, s, fail, num, path);
    }
    this.log.push(`write ${path} ${JSON.stringify(s)}`);
  }

  /** A cluster or node attribute's value as the kernel's store parses it: strtoul for numbers, then the range. */
  private parseStore(a: O2nmAttribute, s: string, fail: (c: keyof typeof E) => KernelError, num: () => number): O2nmValue {
    switch (a.unit) {
      case 'ms':
      case 'count':
      case 'port': {
        const x = num();
        if (a.range && x < a.range.min) throw fail('EINVAL');
        if (a.range && x > a.range.max) throw fail('ERANGE');
        return x;
      }
      case 'bool':
        return num() !== 0;
      case 'ipv4': {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/.exec(s);
        if (!m) throw fail('EINVAL');
        const oct = m.slice(1, 5).map(Number);
        if (oct.some((o) => o > 255)) throw fail('ERANGE');
        return oct.join('.');
      }
      case 'enum': {
        // the whole value and its newline, in any case
        const t = s.toLowerCase();
        const v = a.values!.find((x) => t === `${x}\n`);
        if (v === undefined) throw fail('EINVAL');
        return v;
      }
      case 'text':
        throw fail('EINVAL');
    }
  }

  /** A heartbeat/ attribute as o2hb parses it: decimal counts (below the minimum: ignored, undefined), mode names by prefix. */
  private parseHeartbeat(a: O2nmAttribute, s: string, fail: (c: keyof typeof E) => KernelError): O2nmValue | undefined {
    if (a.unit === 'enum') {
      const t = s.replace(/\n$/, '').toLowerCase();
      const v = t ? a.values!.find((x) => (a.prefixMatch ? x.startsWith(t) : x === t)) : undefined;
      if (v === undefined) throw fail('EINVAL');
      return v;
    }
    const m = /^(\d+)\n?$/.exec(s);
    if (!m) throw fail('EINVAL');
    const x = Number(m[1]);
    return a.range && x < a.range.min ? undefined : x;
  }

  private writeNode(c: SimCluster, name: string, attr: string, s: string, fail: (c: keyof typeof E) => KernelError, num: () => number): void {
    const n = c.nodes.get(name)!;
    const a = this.attrs.node.get(attr);
    if (!a) throw fail('EINVAL');
    const x = this.parseStore(a, s, fail, num);
    if (a.requires?.some((r) => !n.values.has(r))) throw fail('EINVAL');
    if (a.name === 'local') return this.writeLocal(c, n, x === true, fail);
    if (a.unique && [...c.nodes.values()].some((o) => o.values.get(a.name) === x)) throw fail('EEXIST');
    if (a.writeOnce && n.values.has(a.name)) throw fail('EBUSY');
    n.values.set(a.name, x);
  }

  /** The kernel's one local node per cluster (setting it starts o2net's listener). */
  private writeLocal(c: SimCluster, n: SimNode, x: boolean, fail: (c: keyof typeof E) => KernelError): void {
    const numOf = n.values.get('num') as number;
    if (x && c.hasLocal && c.localNum !== numOf) throw fail('EBUSY');
    if (x && !c.hasLocal) {
      if (this.hostAddresses && !this.hostAddresses.has(String(n.values.get('ipv4_address')))) throw fail('EADDRNOTAVAIL');
      c.hasLocal = true;
      c.localNum = numOf;
    }
    // as Debian's 6.1.0-50: clearing it stops the listener, but the cluster keeps counting a
    // local node (with no number), so no node can be made local again until the cluster is gone
    if (!x && c.hasLocal && c.localNum === numOf) c.localNum = -1;
    n.values.set('local', x);
  }

  private writeRegion(c: SimCluster, r: SimRegion, attr: string, s: string, fail: (c: keyof typeof E) => KernelError, num: () => number, path: string): void {
    if (attr !== 'dev' && r.dev) throw fail('EINVAL');
    const outOfRange = (x: number) => {
      const range = this.attrs.region.get(attr)?.range;
      return range !== undefined && (x < range.min || x > range.max);
    };
    switch (attr) {
      case 'block_bytes': {
        const x = num();
        if (outOfRange(x)) throw fail('ERANGE');
        if ((x & (x - 1)) !== 0) throw fail('EINVAL');
        r.blockBytes = x;
        return;
      }
      case 'start_block': r.startBlock = num(); return;
      case 'blocks': {
        const x = num();
        if (outOfRange(x)) throw fail('ERANGE');
        r.blocks = x;
        return;
      }
      case 'dev': {
        if (r.dev) throw fail('EINVAL');
        if (!c.hasLocal) throw fail('EINVAL');
        if (!/^\d+\n?$/.test(s)) throw fail('EINVAL');
        if (!r.blocks || !r.startBlock || !r.blockBytes) throw fail('EINVAL');
        r.dev = `sim${s.trim()}`;
        r.pid = this.nextPid++;
        void path;
        return;
      }
      default: throw fail('EINVAL');
    }
  }

  /** writefd in the simulation: the device path stands for the fd; its basename becomes `dev`. */
  private writeFd(path: string, device: string): void {
    this.write(path, '3');
    const p = this.split(path)!;
    const r = this.cluster(p[0])!.regions.get(p[2]!)!;
    r.dev = device.slice(device.lastIndexOf('/') + 1);
  }

  // ---- batches -----------------------------------------------------------------------------
  batch(ops: AttrOp[]): BatchResult {
    const reads: (Buffer | undefined)[] = new Array(ops.length).fill(undefined);
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      try {
        if (o.op === 'mkdir') this.mkdir(o.path);
        else if (o.op === 'rmdir') this.rmdir(o.path);
        else if (o.op === 'write') this.write(o.path, o.data ?? '');
        else if (o.op === 'read') {
          const v = o.missingOk ? this.tryRead(o.path) : this.read(o.path);
          reads[i] = v === undefined ? undefined : Buffer.from(v);
        }
        else this.writeFd(o.path, o.device ?? '');
      } catch (e) {
        if (e instanceof KernelError) throw new BatchError(e, i, i, o);
        throw e;
      }
    }
    return { completed: ops.length, reads };
  }

  async batchAsync(ops: AttrOp[]): Promise<BatchResult> {
    return this.batch(ops);
  }
}
