// Who serves POSIX locks for user-stack volumes, and what to tell the operator when nobody does.
// fs/dlm hands every fcntl/lockf lock on a user-stack ocfs2 volume mounted without `localflocks`
// to /dev/dlm_plock and puts the caller to sleep until a control daemon answers: with nobody
// reading it the caller sleeps for good; an o2stack daemon with plocks off answers ENOSYS. Pure.

/** The plock side of the running control daemon, as found by lib/stack/mount.ts. */
export interface PlockServer {
  who: 'dlm_controld' | 'o2stack daemon' | 'nobody';
  serving: boolean;
  /** why not, when not serving (or what serves, when serving) */
  detail: string;
}

export interface PlockWarning {
  code: 'W_PLOCK_UNSERVED';
  message: string;
  fix: string;
}

const LOCALFLOCKS_COST =
  'mount with -o localflocks: fcntl and flock locks then stay on this node — two nodes can hold the "same" lock at once, so applications that coordinate across nodes through locks (databases such as SQLite, Samba, mail spools) can corrupt data';

/** The warning for a user-stack mount with these options, or undefined when locks are fine. */
export function plockWarning(o: { target: string; options: string[]; server: PlockServer }): PlockWarning | undefined {
  if (o.options.includes('localflocks') || o.server.serving) return undefined;
  const effect = o.server.who === 'o2stack daemon' ? 'are refused at once with ENOSYS' : 'never return: the calling process sleeps in the kernel for good (hung-task warnings), because nobody reads /dev/dlm_plock';
  const fix =
    o.server.who === 'o2stack daemon'
      ? `run the o2stack daemon with POSIX locks (without --no-plocks, on corosync or a one-node static membership), or ${LOCALFLOCKS_COST}`
      : o.server.who === 'dlm_controld'
        ? `set enable_plock=1 for dlm_controld (/etc/dlm/dlm.conf, no -p 0), or ${LOCALFLOCKS_COST}`
        : `start a control daemon that serves them (systemctl start o2stack-daemon), or ${LOCALFLOCKS_COST}`;
  return { code: 'W_PLOCK_UNSERVED', message: `POSIX locks (fcntl, lockf) on ${o.target} ${effect}: ${o.server.detail}`, fix };
}

/** dlm_controld's plock setting: its command line first (it wins), then dlm.conf; default on. */
export function dlmControldServesPlocks(cmdline: string[], dlmConf: string | undefined): boolean {
  for (let i = 0; i < cmdline.length; i++) {
    const a = cmdline[i]!;
    const v = a === '-p' || a === '--enable_plock' ? cmdline[i + 1] : /^(?:-p|--enable_plock=)(\d+)$/.exec(a)?.[1];
    if (v !== undefined) return v !== '0';
  }
  for (const line of (dlmConf ?? '').split('\n')) {
    const m = /^\s*enable_plock\s*=\s*(\d+)\s*(#.*)?$/.exec(line);
    if (m) return m[1] !== '0';
  }
  return true;
}
