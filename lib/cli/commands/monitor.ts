// o2stack monitor: print kernel uevents as they arrive, like `udevadm monitor`, until SIGINT or
// SIGTERM. One line per event; with --json, one JSON object per line (JSON lines).
import type { Command } from 'commander';
import type { ReceivedUevent, UeventOverflow } from '../../kernel/uevent.js';
import { type GlobalOptions, printable, safeJson, writeErrRaw, writeOutRaw } from '../output.js';

interface MonitorOptions extends GlobalOptions {
  subsystem?: string[];
  action?: string[];
  devpath?: string[];
  udev?: boolean;
  property?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** CLOCK_MONOTONIC seconds, as udevadm prints them. */
function monotonic(): string {
  const ns = process.hrtime.bigint();
  return `${ns / 1_000_000_000n}.${String((ns % 1_000_000_000n) / 1000n).padStart(6, '0')}`;
}

export function formatEventLine(ev: ReceivedUevent, time: string, withEnv: boolean): string {
  const who = ev.source === 'udev' ? 'UDEV  ' : ev.sender === 'userspace' ? 'USER  ' : 'KERNEL';
  let line = `${who}[${time}] ${ev.action.padEnd(8)} ${ev.devpath} (${ev.subsystem ?? '-'})\n`;
  if (withEnv) {
    for (const [k, v] of Object.entries(ev.env)) line += `${k}=${v}\n`;
    line += '\n';
  }
  return line;
}

export function register(program: Command): void {
  program
    .command('monitor')
    .description('print kernel uevents as they arrive (like udevadm monitor), until SIGINT/SIGTERM; --json prints JSON lines')
    .option('--subsystem <name>', 'only events of this subsystem (repeatable)', collect)
    .option('--action <action>', 'only events with this action (repeatable)', collect)
    .option('--devpath <prefix>', 'only events whose DEVPATH starts with this (repeatable)', collect)
    .option('--udev', "also listen to udevd's re-broadcasts (netlink group 2)")
    .option('-p, --property', 'print every KEY=VALUE of each event')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<MonitorOptions>();
      const { UeventListener } = await import('../../kernel/uevent.js');
      // --json: the addon formats the kernel's datagrams into lines itself ('lines'); parsing
      // each into an object here and formatting it took ~10 µs of CPU per event (~100k/s)
      const listener = new UeventListener({
        udev: o.udev === true,
        filter: { subsystem: o.subsystem, action: o.action, devpathPrefix: o.devpath },
        ref: true,
        jsonLines: o.json === true,
      });
      // One write(2) per batch of events, not per event: a syscall per line capped --json at ~80k
      // events/s. Lines wait at most until the loop's next turn (setImmediate): the listener hands
      // over each socket drain as one batch, so they are written as soon as that batch is done.
      // The write is synchronous (writeOutRaw: write(2) on fd 1): a reader slower than the events
      // holds the monitor back, and the kernel's dropped broadcasts are then reported as overflow
      // lines. Through process.stdout (asynchronous on a pipe) the lines piled up in memory and
      // process.exit dropped them: `o2stack monitor --json | wc -l` counted 86,821 of 1,500,000.
      // Lines are encoded straight into one reused buffer (no array of strings joined, then
      // converted): at 150k events/s the join and the conversion were a sixth of the CPU.
      let out = Buffer.allocUnsafe(1 << 20);
      let used = 0;
      let scheduled = false;
      let stdoutBroken = false; // after EPIPE nothing more is written
      let fail: (e: Error) => void = () => undefined;
      const flush = () => {
        scheduled = false;
        if (used === 0 || stdoutBroken) return;
        const bytes = out.subarray(0, used);
        used = 0;
        try {
          writeOutRaw(bytes);
        } catch (e) {
          stdoutBroken = true;
          fail(e as Error);
        }
      };
      const write = (s: string | Buffer) => {
        // UTF-8 needs at most 3 bytes per UTF-16 unit
        const most = typeof s === 'string' ? 3 * s.length : s.length;
        if (used + most > out.length) {
          const bigger = Buffer.allocUnsafe(Math.max(2 * out.length, used + most));
          out.copy(bigger, 0, 0, used);
          out = bigger;
        }
        used += typeof s === 'string' ? out.write(s, used) : s.copy(out, used);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      };
      await new Promise<void>((resolve, reject) => {
        let stopped = false;
        const end = (e?: Error) => {
          if (stopped) return;
          stopped = true;
          if (!e) flush();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          listener.close();
          if (e) reject(e);
          else resolve();
        };
        const stop = () => end();
        // the reader went away (EPIPE): stop like on SIGINT; any other write error fails the command
        fail = (e: NodeJS.ErrnoException) => end(e.code === 'EPIPE' ? undefined : e);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (o.json) listener.on('lines', (lines: Buffer) => write(lines));
        else listener.on('event', (ev: ReceivedUevent) => write(printable(formatEventLine(ev, monotonic(), o.property === true))));
        listener.on('overflow', (ov: UeventOverflow) => {
          if (o.json) write(safeJson({ time: Number(monotonic()), overflow: ov }) + '\n');
          else write(`OVERFLOW[${monotonic()}] the kernel dropped uevents (ENOBUFS, ${ov.total} so far): state may be stale, rescan\n`);
        });
        listener.on('error', (e: Error) => end(e));
        const groups = o.udev ? 'KERNEL - the kernel uevent; UDEV - the event udevd sends out after rule processing' : 'KERNEL - the kernel uevent';
        writeErrRaw(`monitor will print the received events for:\n${groups}\n\n`);
      });
      const s = listener.stats();
      writeErrRaw(
        `monitor: ${s.emitted} events printed, ${s.filtered} filtered out, ${s.droppedSpoofed} spoofed and ${s.droppedMalformed} malformed dropped, ${s.overflows} overflows\n`,
      );
    });
}
