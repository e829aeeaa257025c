// UeventListener: kernel uevents (NETLINK_KOBJECT_UEVENT) as typed events on the Node event loop.
//
// The native side (native/uevent.cc) owns the socket, watches it with uv_poll on this thread's
// loop, drains it on every wake-up, checks the sender (kernel: nl_pid 0 and uid 0) and hands a
// batch to one callback; this class parses, filters and emits.
//
// Events:
//   'event'    (ReceivedUevent)   one per accepted, well-formed, matching datagram
//   'overflow' (UeventOverflow)   the kernel dropped broadcasts (ENOBUFS): state learned from
//                                 uevents may be stale, RESCAN (for dlm: /sys/kernel/dlm/*)
//   'malformed'(MalformedUevent)  a datagram that does not parse (also counted)
//   'error'    (Error)            the socket failed; the listener closes itself
//   'lines'    (Buffer)           jsonLines mode only, instead of 'event': the JSON lines of a
//                                 batch (ueventJsonLine), most of them made by the addon
//
// Overflow choice: NETLINK_NO_ENOBUFS is NOT set (unless `noEnobufs: true`), so an overflow is
// reported to us and becomes an 'overflow' event and a counter. A lost dlm `online` leaves a
// mount hung for ever, so a consumer that cares must be told to rescan rather than left with a
// silent gap. The receive buffer is large (64 MiB requested with SO_RCVBUFFORCE) to make
// overflow rare.
//
// Lifetime: unref'd by default (does not keep the process alive) — call ref() to keep it alive;
// close() releases the socket and the loop handle; env teardown closes it too.
import { EventEmitter } from 'node:events';
import { parseUevent, ueventJsonLine, type MalformedUevent, type Uevent } from '../model/uevent.js';
import { loadNative, type NativeUevent, type NativeUeventHandle, type NativeUeventOpenOptions, type NativeUeventStats } from './native.js';

/** Who sent the datagram: the kernel, udevd (group 2, uid 0), or an accepted userspace sender. */
export type UeventSender = 'kernel' | 'udevd' | 'userspace';

export interface ReceivedUevent extends Uevent {
  sender: UeventSender;
}

/** All given fields must match; an array matches any of its values. */
export interface UeventFilter {
  subsystem?: string | string[];
  action?: string | string[];
  devpathPrefix?: string | string[];
}

export interface UeventListenerOptions {
  /** Listen to the kernel group (1). Default true. */
  kernel?: boolean;
  /** Listen to udevd's group (2) too. Default false. */
  udev?: boolean;
  /**
   * TESTS ONLY: accept datagrams from userspace senders (anyone with CAP_NET_ADMIN can send to
   * group 1). Off by default: such datagrams are dropped and counted in droppedSpoofed.
   */
  acceptUserspace?: boolean;
  /** Set NETLINK_NO_ENOBUFS: overflows then go unreported. Default false (see file comment). */
  noEnobufs?: boolean;
  /** Requested receive buffer; default 64 MiB (the kernel doubles it). */
  receiveBufferBytes?: number;
  /** Deliver only events matching this filter (or any of these filters). */
  filter?: UeventFilter | UeventFilter[];
  /** Keep the process alive while open. Default false. */
  ref?: boolean;
  /**
   * Emit 'lines' (Buffers of JSON lines, as `o2stack monitor --json` prints them) instead of
   * 'event': the addon filters and formats plain kernel datagrams itself, several times faster
   * than parsing each into an object here; the rest take the JavaScript path in between, in
   * order. The filter must then be one filter, not a list.
   */
  jsonLines?: boolean;
  /** Native surface to use (tests inject a fake). Default: the addon's. */
  native?: NativeUevent;
}

export interface UeventOverflow {
  /** ENOBUFS reports in this wake-up (each: one or more lost datagrams). */
  count: number;
  /** Total so far. */
  total: number;
}

export interface UeventListenerStats {
  /** Datagrams read from the socket, before any check. */
  received: number;
  /** Events emitted ('event', or lines in jsonLines mode). */
  emitted: number;
  /** Well-formed events that did not match the filter. */
  filtered: number;
  droppedSpoofed: number;
  /** Truncated/empty (native) plus unparseable (here). */
  droppedMalformed: number;
  overflows: number;
  wakeups: number;
  /** jsonLines mode: of the lines emitted, those the addon made (the rest took the JavaScript path) */
  linesFromAddon: number;
  receiveBufferBytes: number;
  open: boolean;
  refed: boolean;
}

export interface UeventIteratorOptions {
  /** Events buffered for a slow consumer before the iterator fails with E_UEVENT_OVERFLOW. Default 4096. */
  maxQueued?: number;
  /** Close the listener when the iteration ends (break/return/throw). Default false. */
  closeOnReturn?: boolean;
}

/** Thrown by the async iterator when events were lost (kernel ENOBUFS or its own queue full). */
export class UeventOverflowError extends Error {
  readonly code = 'E_UEVENT_OVERFLOW';
  constructor(
    readonly reason: 'kernel' | 'queue',
    readonly lost: number | undefined,
  ) {
    super(
      reason === 'kernel'
        ? 'uevents were lost: the kernel dropped broadcasts (ENOBUFS); rescan the state you track (for dlm: /sys/kernel/dlm/)'
        : `uevents were lost: the consumer fell more than the queue bound behind (${lost ?? '?'} dropped); rescan and iterate again`,
    );
    this.name = 'UeventOverflowError';
  }
}

function asList(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

/** Compiles filters into a predicate; no filter accepts everything. */
export function compileUeventFilter(filter: UeventFilter | UeventFilter[] | undefined): (ev: Uevent) => boolean {
  if (filter === undefined) return () => true;
  const list = (Array.isArray(filter) ? filter : [filter]).map((f) => ({
    subsystem: asList(f.subsystem),
    action: asList(f.action),
    devpathPrefix: asList(f.devpathPrefix),
  }));
  if (list.length === 0) return () => true;
  return (ev) =>
    list.some(
      (f) =>
        (f.subsystem === undefined || (ev.subsystem !== undefined && f.subsystem.includes(ev.subsystem))) &&
        (f.action === undefined || f.action.includes(ev.action)) &&
        (f.devpathPrefix === undefined || f.devpathPrefix.some((p) => ev.devpath.startsWith(p))),
    );
}

const SENDERS: readonly UeventSender[] = ['userspace', 'kernel', 'udevd'];

type QueueItem = { ev: ReceivedUevent } | { overflow: UeventOverflowError };

export class UeventListener extends EventEmitter {
  private readonly native: NativeUevent;
  private readonly handle: NativeUeventHandle;
  private readonly match: (ev: Uevent) => boolean;
  private closed = false;
  private emitted = 0;
  private filtered = 0;
  private malformed = 0;
  private overflowTotal = 0;
  private readonly jsonLines: boolean;

  constructor(options: UeventListenerOptions = {}) {
    super();
    this.native = options.native ?? requireUevent();
    this.match = compileUeventFilter(options.filter);
    this.jsonLines = options.jsonLines === true;
    let nativeFilter: NativeUeventOpenOptions['jsonLines'];
    if (this.jsonLines) {
      if (Array.isArray(options.filter) && options.filter.length > 1) throw new TypeError('jsonLines takes one filter, not a list of filters');
      const f = Array.isArray(options.filter) ? options.filter[0] : options.filter;
      nativeFilter = {};
      if (f?.subsystem !== undefined) nativeFilter.subsystem = asList(f.subsystem);
      if (f?.action !== undefined) nativeFilter.action = asList(f.action);
      if (f?.devpathPrefix !== undefined) nativeFilter.devpathPrefix = asList(f.devpathPrefix);
    }
    // The addon's errors are KernelErrors already (setErrorClasses).
    this.handle = this.native.open(
      {
        kernel: options.kernel ?? true,
        udev: options.udev ?? false,
        acceptUserspace: options.acceptUserspace ?? false,
        noEnobufs: options.noEnobufs ?? false,
        ...(options.receiveBufferBytes !== undefined ? { receiveBufferBytes: options.receiveBufferBytes } : {}),
        ...(nativeFilter ? { jsonLines: nativeFilter } : {}),
      },
      (messages, senders, overflows, error, lines, positions, times) => this.onBatch(messages, senders, overflows, error, lines, positions, times),
    );
    if (options.ref) this.native.ref(this.handle);
  }

  private onBatch(messages: Buffer[], senders: Uint8Array, overflows: number, error: Error | null, lines?: Buffer, positions?: Uint32Array, times?: Float64Array): void {
    if (this.closed) return;
    if (overflows > 0) {
      this.overflowTotal += overflows;
      this.emit('overflow', { count: overflows, total: this.overflowTotal } satisfies UeventOverflow);
      if (this.closed) return;
    }
    if (this.jsonLines) this.onLines(messages, senders, lines!, positions!, times!);
    else this.onEvents(messages, senders);
    if (error && !this.closed) {
      this.close();
      this.emit('error', error);
    }
  }

  /** jsonLines mode: the addon's lines, with the lines of the datagrams it left to JS put in their places. */
  private onLines(messages: Buffer[], senders: Uint8Array, lines: Buffer, positions: Uint32Array, times: Float64Array): void {
    let parts: Buffer[] | undefined;
    let from = 0;
    for (let i = 0; i < messages.length; i++) {
      const ev = this.accept(messages[i], senders[i]);
      if (!ev) continue;
      (parts ??= []).push(lines.subarray(from, positions[i]), Buffer.from(ueventJsonLine(ev, Number(`${times[2 * i]}.${String(times[2 * i + 1]).padStart(6, '0')}`))));
      from = positions[i]!;
    }
    if (this.closed) return; // a 'malformed' listener closed it
    const out = parts ? Buffer.concat([...parts, lines.subarray(from)]) : lines;
    if (out.length > 0) this.emit('lines', out);
  }

  /** Parses, checks and filters one datagram: the event, or undefined (counted). */
  private accept(message: Buffer, sender: number): ReceivedUevent | undefined {
    const p = parseUevent(message);
    if (p.malformed) {
      this.malformed++;
      if (this.listenerCount('malformed') > 0) this.emit('malformed', p satisfies MalformedUevent);
      return undefined;
    }
    if (!this.match(p)) {
      this.filtered++;
      return undefined;
    }
    // No copy: the parsed object becomes the event (it keeps its `malformed: false` tag).
    const received = p as typeof p & ReceivedUevent;
    received.sender = SENDERS[sender] ?? 'userspace';
    this.emitted++;
    return received;
  }

  private onEvents(messages: Buffer[], senders: Uint8Array): void {
    for (let i = 0; i < messages.length; i++) {
      const received = this.accept(messages[i]!, senders[i]!);
      if (!received) continue;
      this.emit('event', received);
      if (this.closed) return;
    }
  }

  /** Keep the process alive while this listener is open. */
  ref(): this {
    if (!this.closed) this.native.ref(this.handle);
    return this;
  }

  /** Let the process exit even though this listener is open (the default). */
  unref(): this {
    if (!this.closed) this.native.unref(this.handle);
    return this;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Closes the socket and releases the loop handle. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
    this.emit('close');
  }

  stats(): UeventListenerStats {
    const n: NativeUeventStats = this.native.stats(this.handle);
    return {
      received: n.received,
      emitted: this.emitted + (n.linesFormatted ?? 0),
      filtered: this.filtered + (n.linesFiltered ?? 0),
      droppedSpoofed: n.droppedSpoofed,
      droppedMalformed: n.droppedMalformed + this.malformed,
      overflows: n.overflows,
      wakeups: n.wakeups,
      linesFromAddon: n.linesFormatted ?? 0,
      receiveBufferBytes: n.receiveBufferBytes,
      open: n.open,
      refed: n.refed,
    };
  }

  /**
   * Async iteration over 'event's with a bounded queue. An overflow (kernel ENOBUFS, or more than
   * maxQueued events waiting) makes next() reject with UeventOverflowError once the events
   * queued before it are consumed; iterate again after rescanning. Closing the listener ends
   * the iteration. Ending the iteration does not close the listener unless closeOnReturn.
   */
  events(options: UeventIteratorOptions = {}): AsyncIterableIterator<ReceivedUevent> {
    if (this.jsonLines) throw new TypeError("a jsonLines listener emits 'lines', not events: iterate a listener opened without jsonLines");
    const maxQueued = options.maxQueued ?? 4096;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw new RangeError('maxQueued must be a positive integer');
    const queue: QueueItem[] = [];
    let queuedEvents = 0;
    let lostToQueue = 0;
    let waiter: { resolve: (r: IteratorResult<ReceivedUevent>) => void; reject: (e: unknown) => void } | undefined;
    let done = false;

    const push = (item: QueueItem) => {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        if ('ev' in item) w.resolve({ value: item.ev, done: false });
        else {
          finish();
          w.reject(item.overflow);
        }
        return;
      }
      queue.push(item);
    };
    const onEvent = (ev: ReceivedUevent) => {
      if (lostToQueue > 0 || queuedEvents >= maxQueued) {
        lostToQueue++;
        return;
      }
      queuedEvents++;
      push({ ev });
    };
    const onOverflow = () => {
      push({ overflow: new UeventOverflowError('kernel', undefined) });
    };
    const onClose = () => {
      finish();
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w.resolve({ value: undefined, done: true });
      }
    };
    const finish = () => {
      if (done) return;
      done = true;
      this.off('event', onEvent);
      this.off('overflow', onOverflow);
      this.off('close', onClose);
      if (options.closeOnReturn) this.close();
    };
    this.on('event', onEvent);
    this.on('overflow', onOverflow);
    this.on('close', onClose);
    if (this.closed) finish();

    const it: AsyncIterableIterator<ReceivedUevent> = {
      next: () => {
        const item = queue.shift();
        if (item) {
          if ('ev' in item) {
            queuedEvents--;
            return Promise.resolve({ value: item.ev, done: false });
          }
          finish();
          return Promise.reject(item.overflow);
        }
        if (lostToQueue > 0) {
          const lost = lostToQueue;
          finish();
          return Promise.reject(new UeventOverflowError('queue', lost));
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiter = { resolve, reject };
        });
      },
      return: () => {
        finish();
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedUevent> {
    return this.events();
  }
}

function requireUevent(): NativeUevent {
  const n = loadNative();
  if (!n.uevent) throw new Error('the native addon has no uevent surface: rebuild it (npm run build:native)');
  return n.uevent;
}

/**
 * TEST-ONLY: sends datagrams to a uevent group from a userspace netlink socket (needs
 * CAP_NET_ADMIN). Listeners drop them unless created with acceptUserspace.
 */
export function sendUeventForTest(messages: Buffer | Buffer[], group: 1 | 2 = 1): number {
  return requireUevent().sendForTest(messages, group);
}
