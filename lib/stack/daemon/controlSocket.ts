// The daemon's local control socket: a unix stream socket (default /run/o2stack.sock) that answers
// root only. Two layers: the socket is created with umask 077 and then chmod 0600, so connect(2)
// (which needs write permission on it) fails for anyone but root; and every accepted connection's
// peer credentials (SO_PEERCRED, recorded by the kernel at connect) must say uid 0, or the daemon's
// own euid (a daemon run unprivileged, in tests), otherwise it is refused before its request is
// read. The second layer holds when the first does not (a chmod by hand, a socket handed down).
// Protocol: the client sends one line "COMMAND [ARGS...]\n"; the server answers one JSON line
// {"ok":true,"result":...} or {"ok":false,"error":"..."} and closes.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { peerCredentials } from '../../kernel/peercred.js';

export const DEFAULT_SOCKET = '/run/o2stack.sock';
const MAX_REQUEST = 4096;

export type CommandHandler = (args: string[]) => unknown | Promise<unknown>;

/**
 * One request line out of what a connection sent so far: `more` while there is no newline yet
 * (and the request is within MAX_REQUEST), the command and its arguments when it is one of
 * `commands` (own names only), or the error to answer.
 */
export function parseControlRequest(buf: string, commands: readonly string[]): { more: true } | { cmd: string; args: string[] } | { error: string } {
  const nl = buf.indexOf('\n');
  if (nl < 0 || nl > MAX_REQUEST) return buf.length > MAX_REQUEST || nl > MAX_REQUEST ? { error: `request too long (more than ${MAX_REQUEST} bytes without a newline)` } : { more: true };
  const [cmd = '', ...args] = buf.slice(0, nl).trim().split(/\s+/);
  if (!commands.includes(cmd)) return { error: `unknown command '${cmd.slice(0, 64)}' (${commands.join(', ')})` };
  return { cmd, args };
}

/** The socket path cannot be used: another daemon answers there, or it is not a socket. */
export class SocketInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * Whether a control socket can be made at `path`: nothing there, or a stale socket nobody answers
 * on (true then: it is to be removed). Throws SocketInUseError when a daemon answers on it or the
 * path is something else (a file, a directory): never removed. Read-only, so a daemon can ask it
 * before it touches anything.
 */
export async function checkSocketPath(path: string): Promise<boolean> {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (!st.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket (a ${st.isDirectory() ? 'directory' : st.isFile() ? 'regular file' : 'special file'}): it is left alone; pick another path with --socket, or remove it`, path);
  const alive = await request(path, 'status', 1000).then(
    () => true,
    (e: unknown) => e instanceof ControlRequestError && !('errno' in e),
  );
  if (alive) throw new SocketInUseError(`another o2stack daemon answers on ${path}: stop it first (systemctl stop o2stack-daemon), or give this one another --socket`, path);
  return true;
}

export interface ControlServerOptions {
  /** The whole request line must arrive within this, from connect (default 5000 ms): a client trickling bytes cannot hold a connection. */
  requestTimeoutMs?: number;
  /** After the answer, how long the peer has to close before the connection is cut (default 1000 ms). */
  lingerMs?: number;
  /** Connections served at once (default 64); more are closed by the kernel's listen queue and node. */
  maxConnections?: number;
}

export class ControlServer {
  private server: Server | undefined;
  constructor(
    readonly path: string,
    private readonly handlers: Record<string, CommandHandler>,
    private readonly opts: ControlServerOptions = {},
  ) {}

  async listen(): Promise<void> {
    // a stale socket from a previous run is removed only if nobody answers on it; anything else
    // at the path is refused and left alone
    if (await checkSocketPath(this.path)) unlinkSync(this.path);
    const requestMs = this.opts.requestTimeoutMs ?? 5000;
    const lingerMs = this.opts.lingerMs ?? 1000;
    const server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('error', () => undefined);
      // every connection ends within a bound: the answer, then a short linger for the peer to
      // close; a peer that keeps sending after its answer (or trickles a line forever) is cut
      const timers: NodeJS.Timeout[] = [];
      sock.on('close', () => timers.forEach(clearTimeout));
      const answer = (reply: unknown) => {
        let line: string;
        try {
          line = JSON.stringify(reply);
        } catch (e) {
          // a result JSON cannot carry (a BigInt, a cycle) is still answered, never an unhandled rejection
          line = JSON.stringify({ ok: false, error: `internal error: the answer cannot be sent as JSON (${(e as Error).message})` });
        }
        sock.end(line + '\n');
        timers.push(setTimeout(() => sock.destroy(), lingerMs));
      };
      const refusal = refusePeer(sock);
      if (refusal !== undefined) {
        // drain whatever the peer sends so its end arrives and the socket closes; never parse it
        sock.resume();
        return answer({ ok: false, error: refusal });
      }
      // one request per connection: whatever comes after its line is ignored
      let taken = false;
      timers.push(
        setTimeout(() => {
          if (taken) return;
          taken = true;
          answer({ ok: false, error: `no complete request line within ${requestMs} ms (send "COMMAND [ARGS]\\n")` });
        }, requestMs),
      );
      // own commands only (never the object's prototype: constructor, toString, __proto__)
      const commands = Object.keys(this.handlers);
      sock.on('data', (d: string) => {
        if (taken) return;
        buf += d;
        const req = parseControlRequest(buf, commands);
        if ('more' in req) return;
        taken = true;
        if ('error' in req) return answer({ ok: false, error: req.error });
        const { cmd, args } = req;
        const h = this.handlers[cmd]!;
        // a handler may answer later (a promise): a cluster-wide fence-ack is sent first
        Promise.resolve()
          .then(() => h(args))
          .then(
            (result: unknown) => ({ ok: true, result }),
            (e: unknown) => ({ ok: false, error: (e as Error).message }),
          )
          .then(answer);
      });
    });
    const old = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(old);
    }
    server.maxConnections = this.opts.maxConnections ?? 64;
    this.server = server;
    chmodSync(this.path, 0o600);
    server.unref();
  }

  /** Stops listening and removes the socket — only one this server bound. */
  close(): void {
    if (!this.server) return;
    this.server.close();
    this.server = undefined;
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}

/** Why this peer may not use the socket, or undefined when it may (root, or the daemon's euid). */
function refusePeer(sock: Socket): string | undefined {
  let cred;
  try {
    cred = peerCredentials(sock);
  } catch (e) {
    return `permission denied: the o2stack daemon could not check who is connecting (${(e as Error).message})`;
  }
  if (cred.uid === 0 || cred.uid === process.geteuid?.()) return undefined;
  return `permission denied: uid ${cred.uid} (pid ${cred.pid}) is not root; the o2stack daemon's control socket answers root only`;
}

export class ControlRequestError extends Error {
  constructor(
    message: string,
    /** E_DAEMON_NOT_RUNNING (nobody listens: exit 3), E_DAEMON_PERMISSION (exit 4), E_DAEMON (its answer or a broken connection) */
    readonly code: 'E_DAEMON' | 'E_DAEMON_NOT_RUNNING' | 'E_DAEMON_PERMISSION' = 'E_DAEMON',
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ControlRequestError';
  }
}

/** One request to a running daemon; rejects with the daemon's error or the connection's. */
export function request(path: string, line: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new ControlRequestError(`no answer from the daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d: string) => (buf += d));
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      const down = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
      const denied = e.code === 'EACCES' || e.code === 'EPERM';
      const why = down ? 'the o2stack daemon is not running' : denied ? 'only root may talk to the daemon' : e.message;
      const code = down ? 'E_DAEMON_NOT_RUNNING' : denied ? 'E_DAEMON_PERMISSION' : 'E_DAEMON';
      const hint = down ? 'start it: systemctl start o2stack-daemon (or o2stack daemon); --socket PATH names another daemon\'s socket' : denied ? 'run as root' : undefined;
      reject(Object.assign(new ControlRequestError(`${why} (${path})`, code, hint), { errno: e.code }));
    });
    s.on('end', () => {
      clearTimeout(t);
      try {
        const r = JSON.parse(buf) as { ok: boolean; result?: unknown; error?: string };
        if (r.ok) resolve(r.result);
        else reject(new ControlRequestError(r.error ?? 'error'));
      } catch {
        reject(new ControlRequestError(`bad answer from the daemon: ${buf.slice(0, 200)}`));
      }
    });
  });
}
