// o2stack volume inspect | list: what an OCFS2 device or image says about itself (superblock,
// cluster stack, heartbeat region), and every OCFS2 volume on this machine's block devices.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ScanResult, VolumeInspection } from '../../kernel/blockdev.js';
import { CliError, field, type GlobalOptions, printJson, writeOut } from '../output.js';

/** --root prefixes /sys and /dev; other paths (image files) are taken as given. */
function rooted(root: string | undefined, path: string): string {
  return root && root !== '/' && path.startsWith('/dev/') ? join(root, path) : path;
}

function stackText(v: { stack: VolumeInspection['superblock']['stack']; localMount: boolean }): string {
  if (v.localMount) return 'none: a local (non-clustered) volume';
  if (!v.stack) return 'none recorded: classic o2cb with local heartbeat, any cluster name';
  const s = v.stack;
  if (s.name === 'o2cb') return `o2cb, cluster ${field(s.clusterName)}, ${s.globalHeartbeat ? 'global' : 'local'} heartbeat`;
  return `${field(s.name)} (user stack), cluster ${field(s.clusterName)}`;
}

function inspectionJson(v: VolumeInspection) {
  const sb = v.superblock;
  return {
    device: v.device,
    size: v.size,
    sectorSize: v.sectorSize,
    uuid: sb.uuid,
    label: sb.label,
    blockSize: sb.blockSize,
    clusterSize: sb.clusterSize,
    slots: sb.slots,
    stack: sb.stack,
    userStack: sb.userStack,
    localMount: sb.localMount,
    heartbeatDevice: sb.heartbeatDevice,
    features: sb.features,
    compat: sb.compat,
    incompat: sb.incompat,
    roCompat: sb.roCompat,
    checksum: sb.checksum,
    fsBytes: sb.fsBytes,
    heartbeat: v.heartbeat && { region: sb.uuid, startBlock: v.heartbeat.startBlock, blocks: v.heartbeat.blocks, blockBytes: v.heartbeat.blockBytes, fsBlock: v.heartbeat.fsBlock, clusters: v.heartbeat.clusters },
    heartbeatError: v.heartbeatError,
    warnings: sb.warnings,
  };
}

function printInspection(v: VolumeInspection): void {
  const sb = v.superblock;
  const hb = v.heartbeat;
  const lines = [
    `${v.device}: OCFS2 ${sb.heartbeatDevice ? 'heartbeat device' : 'volume'}${sb.label ? ` "${field(sb.label)}"` : ''}`,
    `  uuid        ${sb.uuid}`,
    `  stack       ${stackText(sb)}`,
    `  geometry    block ${sb.blockSize}, cluster ${sb.clusterSize}, ${sb.slots} slot${sb.slots === 1 ? '' : 's'}, ${sb.fsBytes} bytes on a ${v.size}-byte ${v.isBlockDevice ? 'device' : 'file'} (sector ${v.sectorSize})`,
    `  features    ${sb.features.join(' ') || '(none)'}`,
    hb
      ? `  heartbeat   region ${sb.uuid}: start ${hb.startBlock}, ${hb.blocks} blocks of ${hb.blockBytes} bytes (fs block ${hb.fsBlock})`
      : `  heartbeat   unusable: ${v.heartbeatError?.message}\n              fix: ${v.heartbeatError?.hint}`,
    ...sb.warnings.map((w) => `  warning: ${w}`),
  ];
  writeOut(lines.join('\n') + '\n');
}

function printList(s: ScanResult): void {
  const rows = s.volumes.map((v) => [
    v.device,
    v.localMount ? 'None' : (v.stack?.name ?? 'o2cb'),
    field(v.stack?.clusterName ?? ''),
    [v.stack?.globalHeartbeat ? 'G' : '', v.heartbeatDevice ? 'H' : '', v.holders.length ? 'h' : ''].join(''),
    v.uuid,
    field(v.label),
  ]);
  const head = ['DEVICE', 'STACK', 'CLUSTER', 'F', 'UUID', 'LABEL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  if (rows.length) out.push(fmt(head), ...rows.map(fmt));
  else out.push('no OCFS2 volumes found');
  const notes = [`${s.scanned} block device${s.scanned === 1 ? '' : 's'} scanned`, `${s.empty} empty`, `${s.notOcfs2} not OCFS2`];
  if (s.unreadable.length) notes.push(`${s.unreadable.length} unreadable (${s.unreadable.map((u) => `${u.device} ${u.code}`).join(', ')})`);
  if (s.damaged.length) notes.push(`${s.damaged.length} damaged (${s.damaged.map((d) => `${d.device} ${d.code}`).join(', ')}; o2stack volume inspect DEVICE)`);
  out.push(notes.join(', '));
  if (rows.some((r) => r[3]!.length)) out.push('F: G = o2cb global heartbeat, H = heartbeat-only device, h = held by another device (multipath/dm)');
  if (s.unreadable.some((u) => u.code === 'EACCES' || u.code === 'EPERM')) {
    out.push(process.getuid?.() === 0 ? 'note: some devices refuse reads even to root (a container or security policy)' : 'fix: run as root to read every device');
  }
  writeOut(out.join('\n') + '\n');
}

export function register(program: Command): void {
  const volume = program.command('volume').description('OCFS2 volumes: on-disk cluster stack, heartbeat region, discovery');

  volume
    .command('inspect')
    .description('read the superblock and heartbeat file of a device or image (read-only); also UUID=… or LABEL=…')
    .argument('<device>', 'block device, image file, UUID=<uuid> or LABEL=<label>')
    .action(async (device: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { inspectVolume, findByUuid, findByLabel } = await import('../../kernel/blockdev.js');
      const { SuperblockError } = await import('../../model/superblock.js');
      const roots = { sysRoot: o.root ?? '/', devRoot: o.root ?? '/' };
      let path = device;
      const m = /^(UUID|LABEL)=(.*)$/.exec(device);
      if (m) {
        const hits = m[1] === 'UUID' ? [findByUuid(m[2]!, roots)].filter((v) => v !== null) : findByLabel(m[2]!, roots);
        if (hits.length === 0) throw new CliError(`no OCFS2 volume with ${device}`, 1, 'o2stack volume list shows the volumes this machine can see');
        if (hits.length > 1) throw new CliError(`${device} matches ${hits.map((h) => h.device).join(', ')}`, 1, 'name the device, or use UUID=… (labels need not be unique)');
        path = hits[0]!.device;
      }
      let v: VolumeInspection;
      try {
        v = inspectVolume(rooted(o.root, path), { sysRoot: roots.sysRoot });
      } catch (e) {
        if (e instanceof SuperblockError) {
          e.message = `${path}: ${e.message}`;
          e.details.device = path;
        }
        throw e;
      }
      v.device = path;
      if (o.json) printJson(inspectionJson(v));
      else printInspection(v);
    });

  volume
    .command('list')
    .description('every OCFS2 volume on this machine’s block devices (any device type; read-only)')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { scanVolumes } = await import('../../kernel/blockdev.js');
      const s = scanVolumes({ sysRoot: o.root ?? '/', devRoot: o.root ?? '/' });
      if (o.json) printJson(s);
      else printList(s);
    });
}
