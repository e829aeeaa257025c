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

/**
 * How often to send WATCHDOG=1: half of systemd's WatchdogSec (WATCHDOG_USEC), when the watchdog
 * is meant for this process (WATCHDOG_PID unset or ours); undefined: no watchdog.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
