// /proc/mounts (or /proc/self/mounts) parsing, and what it says about OCFS2 mounts.

export interface MountEntry {
  device: string;
  dir: string;
  fstype: string;
  options: string[];
}

export interface Ocfs2Mount extends MountEntry {
  /** the cluster_stack= option: set for user-stack mounts */
  clusterStack?: string;
  /** heartbeat= option: local, global or none (o2cb and local mounts) */
  heartbeat?: string;
}

/** Undo the kernel's octal escapes (\040 for a space, \011 tab, \012 newline, \134 backslash). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMountTable(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    out.push({ device: unescape(f[0]!), dir: unescape(f[1]!), fstype: f[2]!, options: f[3]!.split(',') });
  }
  return out;
}

export function ocfs2Mounts(table: MountEntry[]): Ocfs2Mount[] {
  return table
    .filter((m) => m.fstype === 'ocfs2')
    .map((m) => {
      const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
      const cs = opt('cluster_stack');
      const hb = opt('heartbeat');
      return { ...m, ...(cs ? { clusterStack: cs } : {}), ...(hb ? { heartbeat: hb } : {}) };
    });
}

/** A user-stack mount: the kernel shows cluster_stack=<label> for those; o2cb volumes that record
 * cluster info show cluster_stack=o2cb (seen on Debian's 6.1 kernel), older ones show none. */
export function isUserStackMount(m: Ocfs2Mount): boolean {
  return m.clusterStack !== undefined && m.clusterStack !== 'o2cb';
}
