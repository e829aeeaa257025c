// Stand-ins for /dev/ocfs2_control in tests.
//
// 1. ControlKernelSim: the kernel's per-handle state machine and global state from
//    docs/kernel-interfaces.md#ocfs2_control-handshake, as a ControlIo that throws errno errors
//    like the device.
// 2. FIFO helpers: a named pipe opened by the real native surface, so the exact bytes written
//    can be read back. In pipe "packet mode" (O_DIRECT on the writer's open file description,
//    set through fcntl by a helper process sharing that description) every write(2) is one
//    packet and every read returns one packet, so write sizes are observable too.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlIo } from '../../lib/kernel/control.js';

function errnoError(code: string, errno: number, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, errno: -errno, syscall, path });
}
const EINVAL = (p: string) => errnoError('EINVAL', 22, 'write', p);
const ERANGE = (p: string) => errnoError('ERANGE', 34, 'write', p);

const HEX = /^[0-9a-fA-F]+$/;

/** The kernel's global control state, shared by every handle opened on it. */
export class ControlKernelSim {
  thisNode = -1;
  running = { major: 0, minor: 0 };
  opened = 0;
  /** user-stack connections (mounted volumes) by UUID */
  connections = new Set<string>();
  /** Every DOWN routed to a connection: [uuid, node]. */
  downs: [string, number][] = [];
  /** Set when a DOWN names the local node (the kernel would BUG) or a close reboots the machine. */
  crashed: string | undefined;
  readonly path = '/dev/ocfs2_control(sim)';
  private nextFd = 100;

  open(): ControlIo {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const k = this;
    let state = 0; // INVALID
    let pos = 0;
    let hNode = -1;
    let hMajor = -1;
    let hMinor = -1;
    let closed = false;
    const fd = this.nextFd++;
    // After every SETN/SETV: a handle value that conflicts with the global one fails at once
    // (the value stays recorded on the handle); both set and consistent -> VALID.
    const tryValid = () => {
      if (hNode >= 0 && k.thisNode >= 0 && k.thisNode !== hNode) throw EINVAL(k.path);
      if (hMajor > 0 && k.connections.size > 0 && (k.running.major !== hMajor || k.running.minor !== hMinor)) throw EINVAL(k.path);
      if (hNode < 0 || hMajor < 0) return;
      k.thisNode = hNode;
      k.running = { major: hMajor, minor: hMinor };
      k.opened++;
      state = 3;
    };
    return {
      path: k.path,
      get fd() {
        return closed ? -1 : fd;
      },
      read(max: number): Buffer {
        const s = Buffer.from('T01\n').subarray(pos, pos + Math.min(max, 4 - pos));
        pos += s.length;
        if (s.length > 0 && pos >= 4) state = 1; // READ (even from VALID: the documented hazard)
        return Buffer.from(s);
      },
      write(data: Buffer): number {
        const m = data.toString('latin1');
        if (data.length > 47) throw EINVAL(k.path);
        if (state === 1) {
          if (m !== 'T01\n') throw EINVAL(k.path);
          state = 2;
          return data.length;
        }
        if (state === 2 && data.length === 14 && m.startsWith('SETN ')) {
          if (m[13] !== '\n' || !HEX.test(m.slice(5, 13))) throw EINVAL(k.path);
          const n = parseInt(m.slice(5, 13), 16);
          if (n > 0x7fffffff) throw ERANGE(k.path);
          hNode = n;
          tryValid();
          return data.length;
        }
        if (state === 2 && data.length === 11 && m.startsWith('SETV ')) {
          if (m[7] !== ' ' || m[10] !== '\n' || !HEX.test(m.slice(5, 7)) || !HEX.test(m.slice(8, 10))) throw EINVAL(k.path);
          const major = parseInt(m.slice(5, 7), 16);
          const minor = parseInt(m.slice(8, 10), 16);
          if (major === 0) throw ERANGE(k.path);
          if (major !== 1 || minor > 0) throw EINVAL(k.path);
          hMajor = major;
          hMinor = minor;
          tryValid();
          return data.length;
        }
        if (state === 3 && data.length === 47 && m.startsWith('DOWN ')) {
          if (m[37] !== ' ' || m[46] !== '\n' || !HEX.test(m.slice(38, 46))) throw EINVAL(k.path);
          const n = parseInt(m.slice(38, 46), 16);
          if (n > 0x7fffffff) throw ERANGE(k.path);
          const uuid = m.slice(5, 37);
          if (k.connections.has(uuid)) {
            if (n === k.thisNode) k.crashed = `BUG_ON: DOWN for the local node ${n}`;
            k.downs.push([uuid, n]);
          }
          return data.length;
        }
        throw EINVAL(k.path);
      },
      close(): boolean {
        if (closed) return false;
        closed = true;
        if (state === 3) {
          k.opened--;
          if (k.opened === 0) {
            if (k.connections.size > 0) k.crashed = 'emergency_restart: ocfs2_control released with user-stack connections';
            k.thisNode = -1;
            k.running = { major: 0, minor: 0 };
          }
        }
        return true;
      },
    };
  }
}

export interface FifoDevice {
  path: string;
  /** O_RDWR|O_NONBLOCK fd the test keeps: it offers "T01\n" and reads what the client wrote. */
  holder: number;
  /** Reads everything queued, one read(2) per element (one packet each in packet mode). */
  drain(): Buffer[];
  cleanup(): void;
}

/** A FIFO standing in for the device, with "T01\n" already offered. */
export function makeFifoDevice(offer = 'T01\n'): FifoDevice {
  const dir = mkdtempSync(join(tmpdir(), 'o2s-ctl-'));
  const path = join(dir, 'ocfs2_control');
  execFileSync('mkfifo', ['-m', '0600', path]);
  const holder = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  if (offer.length > 0) writeSync(holder, offer);
  return {
    path,
    holder,
    drain() {
      const out: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (let i = 0; i < 100000; i++) {
        let n: number;
        try {
          n = readSync(holder, buf);
        } catch (e) {
          if ((e as { code?: string }).code === 'EAGAIN') break;
          throw e;
        }
        if (n <= 0) break;
        out.push(Buffer.from(buf.subarray(0, n)));
      }
      return out;
    },
    cleanup() {
      closeSync(holder);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Puts the open file description behind `fd` (ours) into pipe packet mode by setting O_DIRECT
 * from a python3 process that inherits the same description. Returns why it could not, or
 * undefined on success.
 */
export function setPacketMode(fd: number): string | undefined {
  const r = spawnSync(
    'python3',
    ['-c', 'import fcntl, os; fcntl.fcntl(3, fcntl.F_SETFL, fcntl.fcntl(3, fcntl.F_GETFL) | os.O_DIRECT); print(fcntl.fcntl(3, fcntl.F_GETFL) & os.O_DIRECT != 0)'],
    { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: 20000 },
  );
  if (r.error) return `python3 not usable: ${r.error.message}`;
  if (r.status !== 0 || r.stdout.trim() !== 'True') return `fcntl(O_DIRECT) failed: ${r.stderr.trim() || r.stdout.trim()}`;
  return undefined;
}
