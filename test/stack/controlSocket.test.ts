// The daemon's control socket refuses peers that are not root by their SO_PEERCRED credentials,
// not only by the socket's file mode: a client run as uid 65534 against a socket chmod'ed 0666
// (so connect(2) succeeds) is still refused, and its request never reaches a handler.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, request, SocketInUseError } from '../../lib/stack/daemon/controlSocket.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

// A plain-node client (no tsx: uid 65534 may not read this checkout): connects, sends one line,
// prints {"connectError": CODE} or {"reply": TEXT} on stdout.
const CLIENT = `
const net = require('node:net');
const s = net.createConnection(process.argv[1]);
let buf = '';
s.setEncoding('utf8');
s.on('connect', () => s.write(process.argv[2] + '\\n'));
s.on('data', (d) => (buf += d));
s.on('error', (e) => { process.stdout.write(JSON.stringify({ connectError: e.code })); process.exit(0); });
s.on('end', () => process.stdout.write(JSON.stringify({ reply: buf })));
`;

function runClientAs(uid: number, path: string, line: string): Promise<{ connectError?: string; reply?: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, path, line], { uid, gid: uid, cwd: '/', env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client as uid ${uid} exited ${code}: ${err}`));
      try {
        resolve({ ...(JSON.parse(out) as { connectError?: string; reply?: string }), pid: child.pid! });
      } catch {
        reject(new Error(`client as uid ${uid} printed no JSON: ${out} ${err}`));
      }
    });
  });
}

describe('stack/daemon control socket: root only by peer credentials (SO_PEERCRED)', function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2cs-'));
    // uid 65534 must be able to reach the socket's path, so that only the socket decides
    chmodSync(dir, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  (isRoot ? it : it.skip)(
    `uid ${NOBODY} is refused by its credentials even on a 0666 socket, before any handler runs; root is answered${isRoot ? '' : ' (SKIPPED: not running as root, so no client can be run as another uid)'}`,
    async function () {
      const path = join(dir, 'o2.sock');
      const calls: string[][] = [];
      const server = new ControlServer(path, {
        status: (args) => {
          calls.push(args);
          return { up: true };
        },
      });
      await server.listen();
      try {
        // first layer: mode 0600 keeps uid 65534 from connecting at all
        assert.equal(statSync(path).mode & 0o777, 0o600);
        assert.equal((await runClientAs(NOBODY, path, 'status')).connectError, 'EACCES');

        // open the file mode: connect(2) now succeeds, so what refuses is the credential check
        chmodSync(path, 0o666);
        const nobody = await runClientAs(NOBODY, path, 'status');
        assert.equal(nobody.connectError, undefined, 'with mode 0666, uid 65534 must get through connect(2)');
        assert.deepEqual(JSON.parse(nobody.reply!), {
          ok: false,
          error: `permission denied: uid ${NOBODY} (pid ${nobody.pid}) is not root; the o2stack daemon's control socket answers root only`,
        });
        assert.deepEqual(calls, [], 'a refused request must never reach a handler');

        // root, through the real client, still gets its answer (also over the 0666 socket)
        assert.deepEqual(await request(path, 'status'), { up: true });
        assert.deepEqual(JSON.parse((await runClientAs(0, path, 'status x')).reply!), { ok: true, result: { up: true } });
        assert.deepEqual(calls, [[], ['x']]);
      } finally {
        server.close();
      }
    },
  );
});

describe('stack/daemon control socket: bad paths and bad requests', function () {
  this.timeout(15000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'o2s-sockin-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Sends these chunks on one connection (a pause between), returns everything answered. */
  function raw(path: string, chunks: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (buf += d));
      s.on('error', reject);
      s.on('close', () => resolve(buf));
      s.on('connect', async () => {
        for (const c of chunks) {
          if (s.destroyed || s.writableEnded) break;
          s.write(c);
          await new Promise((r) => setTimeout(r, 30));
        }
      });
    });
  }

  it('a path that is a regular file: refused with the reason, and the file is neither replaced nor deleted', async function () {
    const p = join(dir, 'not-a-socket');
    writeFileSync(p, 'precious\n');
    const srv = new ControlServer(p, { status: () => 'ok' });
    await assert.rejects(srv.listen(), (e: Error) => e instanceof SocketInUseError && /is not a socket \(a regular file\): it is left alone/.test(e.message));
    srv.close();
    assert.equal(readFileSync(p, 'utf8'), 'precious\n');
  });

  it('another server answering on the path: refused, and its socket stays (it still answers); a stale socket is replaced', async function () {
    const p = join(dir, 'sock');
    const first = new ControlServer(p, { status: () => 'first' });
    await first.listen();
    const second = new ControlServer(p, { status: () => 'second' });
    await assert.rejects(second.listen(), /another o2stack daemon answers on/);
    second.close();
    assert.equal(await request(p, 'status'), 'first');
    first.close();
    // a socket file nobody listens on (a SIGKILLed daemon's) is taken over
    const child = spawn(process.execPath, ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.stdout.write('up'))", join(dir, 'stale')], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    assert.ok(statSync(join(dir, 'stale')).isSocket());
    const third = new ControlServer(join(dir, 'stale'), { status: () => 'third' });
    await third.listen();
    assert.equal(await request(join(dir, 'stale'), 'status'), 'third');
    third.close();
  });

  it('one request per connection: later lines are not run; the prototype is no command; an overlong line is refused', async function () {
    const p = join(dir, 'sock');
    let runs = 0;
    const srv = new ControlServer(p, { count: () => ++runs });
    await srv.listen();
    try {
      const out = await raw(p, ['count\n', 'count\n', 'count\n']);
      assert.equal(out, '{"ok":true,"result":1}\n');
      assert.equal(runs, 1);
      for (const cmd of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        const r = JSON.parse(await raw(p, [`${cmd}\n`])) as { ok: boolean; error: string };
        assert.equal(r.ok, false, cmd);
        assert.match(r.error, new RegExp(`unknown command '${cmd}'`));
      }
      const long = JSON.parse(await raw(p, ['x'.repeat(5000)])) as { ok: boolean; error: string };
      assert.match(long.error, /request too long/);
      assert.equal(runs, 1);
    } finally {
      srv.close();
    }
  });

  /** A client that never closes by itself (allowHalfOpen) and keeps sending `chunk` every 10 ms until the server cuts it; resolves what it was answered and how it ended. */
  function stubborn(path: string, first: string, chunk: string, limitMs: number): Promise<{ reply: string; cut: boolean }> {
    return new Promise((resolve) => {
      const s = createConnection({ path, allowHalfOpen: true });
      let reply = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (reply += d));
      s.on('error', () => undefined); // EPIPE / ECONNRESET: the server cut us
      const give = setTimeout(() => {
        s.destroy();
        resolve({ reply, cut: false });
      }, limitMs);
      let iv: NodeJS.Timeout | undefined;
      s.on('close', () => {
        clearTimeout(give);
        clearInterval(iv);
        resolve({ reply, cut: true });
      });
      s.on('connect', () => {
        s.write(first);
        iv = setInterval(() => s.writable && s.write(chunk), 10);
      });
    });
  }

  it('a client that trickles a line forever is answered and cut; so is one that keeps sending after its answer', async function () {
    const p = join(dir, 'sock');
    let runs = 0;
    const srv = new ControlServer(p, { status: () => ++runs }, { requestTimeoutMs: 300, lingerMs: 200 });
    await srv.listen();
    try {
      // never a newline, a byte at a time: the 4 KiB bound alone would take minutes
      const slow = await stubborn(p, 'sta', 'x', 8000);
      assert.ok(slow.cut, 'the connection was never closed by the server');
      assert.match(JSON.parse(slow.reply).error, /no complete request line within 300 ms/);
      // a complete request, then an endless stream (and no FIN): answered once, then cut
      const loud = await stubborn(p, 'status\n', 'y'.repeat(4096), 8000);
      assert.ok(loud.cut, 'the connection was never closed by the server');
      assert.equal(loud.reply, '{"ok":true,"result":1}\n');
      // a megabyte without a newline: refused as too long, then cut
      const big = await stubborn(p, 'z'.repeat(1 << 20), 'z'.repeat(4096), 8000);
      assert.ok(big.cut);
      assert.match(JSON.parse(big.reply).error, /request too long/);
      assert.equal(runs, 1);
    } finally {
      srv.close();
    }
  });

  it('requests of any shape get one JSON answer: binary, NUL, invalid UTF-8, blank lines, a result JSON cannot carry', async function () {
    const p = join(dir, 'sock');
    const srv = new ControlServer(p, { status: (args) => args, big: () => 10n });
    await srv.listen();
    try {
      for (const line of ['\n', '   \n', '\0\0\n', 'status \u0000 \ufffd \udc00\n', '\xff\xfe\n', 'status\r\n', `status ${'a '.repeat(2000)}\n`]) {
        const out = await raw(p, [line]);
        const r = JSON.parse(out) as { ok: boolean };
        assert.equal(typeof r.ok, 'boolean', JSON.stringify(line));
        assert.ok(out.endsWith('\n') && out.indexOf('\n') === out.length - 1, 'one line');
      }
      const bad = JSON.parse(await raw(p, ['big\n'])) as { ok: boolean; error: string };
      assert.equal(bad.ok, false);
      assert.match(bad.error, /cannot be sent as JSON/);
    } finally {
      srv.close();
    }
  });
});
