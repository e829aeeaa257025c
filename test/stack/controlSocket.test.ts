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
});
