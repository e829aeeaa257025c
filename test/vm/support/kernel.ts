// Helpers for suites that run inside a test VM (vm/run.sh) against the real kernel.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NativeBackend } from '../../../lib/kernel/backend.js';
import { KernelError } from '../../../lib/kernel/errors.js';
import { O2NM_ROOT } from '../../../lib/model/paths.js';

/** Refuses to run anywhere but a test VM: these suites write to the running kernel's configfs. */
export function requireTestVm(): void {
  const cmd = readFileSync('/proc/cmdline', 'utf8');
  if (!cmd.includes('console=ttyS0') || !process.env.O2STACK_RESULTS || !existsVmrun()) {
    throw new Error('this suite runs only inside a test VM: use `npm run test:vm` (or vm/run.sh)');
  }
}

function existsVmrun(): boolean {
  try {
    readFileSync('/vmrun/env');
    return true;
  } catch {
    return false;
  }
}

/**
 * This VM's node number in a run of `nodes` VMs (vm/run-cluster.sh N, run-two.sh = 2: node k is nk
 * at 192.0.2.k with NODE=k and NODES=N in its environment). Throws when the suite was started
 * any other way (e.g. a three-VM suite in two VMs).
 */
export function vmNode(nodes: number): number {
  const me = Number(process.env.NODE);
  if (Number(process.env.NODES) !== nodes || !Number.isInteger(me) || me < 1 || me > nodes) {
    throw new Error(`this suite runs on ${nodes} VMs (vm/run-cluster.sh ${nodes}: NODE=1..${nodes}, NODES=${nodes}); got NODE=${process.env.NODE} NODES=${process.env.NODES}`);
  }
  return me;
}

/** The backend on the running kernel; asserts it found real configfs (not a fake tree). */
export function realBackend(): NativeBackend {
  const k = new NativeBackend({ root: '/' });
  assert.equal(k.fakeTree, false, '/sys/kernel/config is not configfs in this VM');
  return k;
}

/** Runs fn, which must throw a KernelError with this code; returns the error. */
export function expectCode(fn: () => unknown, code: string): KernelError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KernelError, `expected a KernelError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

export async function expectCodeAsync(p: Promise<unknown>, code: string): Promise<KernelError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KernelError, `expected a KernelError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Removes every o2nm cluster (nodes first, then heartbeat regions, then the cluster). */
export function removeAllClusters(k: NativeBackend): void {
  for (const c of k.tryList(O2NM_ROOT) ?? []) {
    if (c.type !== 'dir') continue;
    const base = `${O2NM_ROOT}/${c.name}`;
    for (const n of k.tryList(`${base}/node`) ?? []) if (n.type === 'dir') k.rmdir(`${base}/node/${n.name}`);
    for (const r of k.tryList(`${base}/heartbeat`) ?? []) if (r.type === 'dir') k.rmdir(`${base}/heartbeat/${r.name}`);
    k.rmdir(base);
  }
}

/** Polls check() every intervalMs until it returns true or timeoutMs passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Does `address` answer one ICMP echo within a second? busybox's ping (the host root the guest
 * runs on need not have iputils): a ping that cannot run is an error, not "no answer" — a missing
 * tool once made every "peer gone" instant.
 */
export function answersPing(address: string): boolean {
  const r = spawnSync('busybox', ['ping', '-c1', '-W1', address], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run busybox ping: ${r.error.message}`);
  if (r.status !== 0 && !/100% packet loss/.test(r.stdout)) throw new Error(`busybox ping ${address} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.status === 0;
}
