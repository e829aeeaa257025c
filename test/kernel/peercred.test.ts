// SO_PEERCRED through the real native surface: a unix server and client in this process (both
// ends report this process), and the errors: a bad fd, a file, a TCP socket (no peer credentials),
// a socket Node gives no fd for.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createConnection, createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError } from '../../lib/kernel/errors.js';
import { loadNative } from '../../lib/kernel/native.js';
import { peerCredentials, peerCredentialsOfFd } from '../../lib/kernel/peercred.js';

/** A connected pair: [the server's accepted socket, the client socket]. */
async function connectedPair(server: Server, connect: () => Socket): Promise<[Socket, Socket]> {
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect();
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return [await accepted, client];
}

function listen(server: Server, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => Server)(...args, () => resolve());
  });
}

describe('kernel/peercred: SO_PEERCRED of unix sockets', function () {
  let dir: string;
  let server: Server;
  const sockets: Socket[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2pc-'));
    server = createServer();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the addon registers the peercred surface', function () {
    assert.ok(loadNative().surfaces.includes('peercred'));
    assert.equal(typeof loadNative().peercred?.peerCred, 'function');
  });

  it('both ends of an in-process unix connection report this process: pid, uid, gid', async function () {
    const path = join(dir, 's.sock');
    await listen(server, path);
    const [accepted, client] = await connectedPair(server, () => createConnection(path));
    sockets.push(accepted, client);
    const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
    assert.deepEqual(peerCredentials(accepted), me);
    assert.deepEqual(peerCredentials(client), me);
  });

  it('a bad fd: EBADF Error with code, errno, syscall (native and wrapped)', function () {
    const fd = 1_000_000; // above any RLIMIT_NOFILE a test runs with: never open
    assert.throws(
      () => loadNative().peercred!.peerCred(fd),
      (e: Error & { code?: string; errno?: number; syscall?: string }) => {
        assert.deepEqual([e.code, e.errno, e.syscall], ['EBADF', -9, 'getsockopt']);
        assert.match(e.message, /^EBADF: .*getsockopt/);
        return true;
      },
    );
    assert.throws(
      () => peerCredentialsOfFd(fd),
      (e: unknown) => e instanceof KernelError && e.code === 'EBADF' && e.errno === -9 && e.syscall === 'getsockopt',
    );
  });

  it('a file is not a socket: ENOTSOCK', function () {
    const fd = openSync(join(dir, 'plain'), 'w');
    try {
      assert.throws(
        () => peerCredentialsOfFd(fd),
        (e: unknown) => e instanceof KernelError && e.code === 'ENOTSOCK' && e.errno === -88 && e.syscall === 'getsockopt',
      );
    } finally {
      closeSync(fd);
    }
  });

  it('a TCP socket has no peer credentials: ENOTCONN, never uid (uid_t)-1 passed on', async function () {
    await listen(server, 0, '127.0.0.1');
    const { port } = server.address() as { port: number };
    const [accepted, client] = await connectedPair(server, () => createConnection(port, '127.0.0.1'));
    sockets.push(accepted, client);
    // the raw surface shows what the kernel gives: uid and gid (uid_t)-1
    assert.equal(loadNative().peercred!.peerCred((accepted as unknown as { _handle: { fd: number } })._handle.fd).uid, 0xffffffff);
    assert.throws(() => peerCredentials(accepted), (e: unknown) => e instanceof KernelError && e.code === 'ENOTCONN' && /no peer credentials/.test(e.message));
  });

  it('a socket Node gives no fd for (never connected, or destroyed) is an Error, not a pass', async function () {
    assert.throws(() => peerCredentials(new Socket()), /cannot read the peer credentials of this socket: Node gives no file descriptor for it \(fd undefined/);
    const path = join(dir, 's.sock');
    await listen(server, path);
    const [accepted, client] = await connectedPair(server, () => createConnection(path));
    sockets.push(client);
    accepted.destroy();
    assert.throws(() => peerCredentials(accepted), /Node gives no file descriptor/);
  });

  it('a non-integer fd is a TypeError from the addon', function () {
    assert.throws(() => loadNative().peercred!.peerCred(1.5), TypeError);
    assert.throws(() => (loadNative().peercred!.peerCred as (x: unknown) => unknown)('3'), TypeError);
  });
});
