// sd_notify(3) through the addon's `notify` surface (native/notify.cc: one AF_UNIX datagram to
// $NOTIFY_SOCKET, '@' = abstract). A no-op returning false when NOTIFY_SOCKET is unset.
import { loadNative } from '../../kernel/native.js';

interface NativeNotify {
  notify(state: string): boolean;
}

export function sdNotify(state: string): boolean {
  if (!process.env.NOTIFY_SOCKET) return false;
  const n = loadNative().notify as NativeNotify | undefined;
  if (!n) throw new Error('the native addon has no notify surface: rebuild it (npm run build:native)');
  return n.notify(state);
}
