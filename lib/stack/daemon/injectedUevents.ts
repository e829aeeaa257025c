// A lockspace event source for the daemon without the kernel's uevent socket: tests, simulations
// and tools that drive a fake kernel tree inject `online`/`offline` for a lockspace here, shaped
// exactly like the kernel's fs/dlm uevents (devpath /kernel/dlm/<ls>, subsystem dlm).
import { EventEmitter } from 'node:events';
import type { ReceivedUevent } from '../../kernel/uevent.js';
import type { LockspaceEventSource } from './runtime.js';

export class InjectedUevents extends EventEmitter implements LockspaceEventSource {
  private seq = 0;
  closed = false;

  /** Emits the uevent the kernel sends for a lockspace (from the event loop, like the socket). */
  lockspace(action: 'online' | 'offline', ls: string): void {
    const seqnum = ++this.seq;
    const ev: ReceivedUevent = {
      action,
      devpath: `/kernel/dlm/${ls}`,
      subsystem: 'dlm',
      seqnum,
      env: { ACTION: action, DEVPATH: `/kernel/dlm/${ls}`, SUBSYSTEM: 'dlm', LOCKSPACE: ls, SEQNUM: String(seqnum) },
      source: 'kernel',
      sender: 'kernel',
    };
    setImmediate(() => {
      if (!this.closed) this.emit('event', ev);
    });
  }

  close(): void {
    this.closed = true;
  }
}
