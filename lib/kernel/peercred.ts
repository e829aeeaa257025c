// Peer credentials of a connected unix socket (SO_PEERCRED, native/peercred.cc).
//
// The kernel records the peer's pid, uid and gid when it connects, so an access check on them
// cannot be fooled by anything the peer sends. Every way this can fail throws: a caller deciding
// who may talk to it must never read "unknown" as "allowed".
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { KernelError } from './errors.js';
import { loadNative, type NativePeerCred, type NativePeerCredentials } from './native.js';

export type PeerCredentials = NativePeerCredentials;

/** (uid_t)-1: what the kernel reports for a socket without a peer (not connected, or not unix). */
const NO_UID = 0xffffffff;

function requirePeerCred(): NativePeerCred {
  const n = loadNative();
  if (!n.peercred) throw new Error('the native addon has no peercred surface: rebuild it (npm run build:native)');
  return n.peercred;
}

/** SO_PEERCRED of an fd; errors are KernelErrors (code, errno, syscall 'getsockopt'). */
export function peerCredentialsOfFd(fd: number, native: NativePeerCred = requirePeerCred()): PeerCredentials {
  const cred: PeerCredentials = native.peerCred(fd); // a KernelError on failure
  if (cred.uid === NO_UID) {
    throw new KernelError(
      { code: 'ENOTCONN', errno: -constants.errno.ENOTCONN, syscall: 'getsockopt' },
      `ENOTCONN: fd ${fd} has no peer credentials (SO_PEERCRED gives none: not a connected unix socket)`,
    );
  }
  return cred;
}

/**
 * The credentials of the process at the other end of an accepted or connected unix socket.
 * Throws when Node does not expose the socket's fd (not yet connected, already destroyed, or a
 * platform without fds) rather than letting the caller go on without knowing who it talks to.
 */
export function peerCredentials(socket: Socket, native?: NativePeerCred): PeerCredentials {
  // Node keeps the libuv handle in the private _handle; its fd getter is the descriptor on Unix
  // (-1 or absent when there is none).
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error(
      `cannot read the peer credentials of this socket: Node gives no file descriptor for it (fd ${String(fd)}; ` +
        `the socket is not connected, already closed, or this platform has no unix fds)`,
    );
  }
  return peerCredentialsOfFd(fd, native);
}
