// Flags between test VMs over the private link: each VM serves the flags it raised on
// 192.0.2.N:7300 (one JSON line per connection); the others poll. It works whatever the shared
// volume's state (unmounted, frozen by a recovery), which files on the volume do not. The server
// is unref'd: a VM whose suite ends must still power off.
import { createConnection, createServer, type Server } from 'node:net';
import { waitFor } from './kernel.js';

const PORT = 7300;

export class FlagBoard {
  private readonly raised = new Set<string>();
  private server: Server | undefined;
  constructor(private readonly me: number) {}

  serve(): Promise<void> {
    return new Promise((res, rej) => {
      this.server = createServer((s) => {
        // a poller that gave up (its 2 s timeout, a loaded machine) resets the connection: EPIPE
        // or ECONNRESET here is its business, and must not end this VM's suite
        s.on('error', () => undefined);
        s.end(`${JSON.stringify([...this.raised])}\n`);
      });
      this.server.once('error', rej);
      this.server.listen(PORT, `192.0.2.${this.me}`, () => {
        this.server!.unref();
        res();
      });
    });
  }

  raise(flag: string): void {
    this.raised.add(flag);
  }

  /** The flags node `node` has raised ([] when it does not answer). */
  of(node: number): Promise<string[]> {
    return new Promise((res) => {
      const s = createConnection({ host: `192.0.2.${node}`, port: PORT, timeout: 2000 });
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('end', () => {
        try {
          res(JSON.parse(data) as string[]);
        } catch {
          res([]);
        }
      });
      s.on('timeout', () => s.destroy());
      s.on('error', () => res([]));
      s.on('close', () => res([]));
    });
  }

  /** Waits (bounded) until node `node` has raised `flag`. */
  awaitFlag(node: number, flag: string, timeoutMs: number): Promise<boolean> {
    return waitFor(async () => (await this.of(node)).includes(flag), timeoutMs, 300);
  }

  close(): void {
    this.server?.close();
  }
}
