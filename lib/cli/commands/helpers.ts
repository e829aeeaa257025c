// o2stack helpers install | remove: our mount.ocfs2 where mount(8) finds it; and the helper itself,
// `o2stack mount.ocfs2 DEVICE DIR [-sfnv] [-o OPTIONS]` (what that script runs), which speaks
// mount(8)'s language: its arguments and exit codes, not the CLI's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type GlobalOptions, printJson, writeErr, writeOut } from '../output.js';

/** Runs mount.ocfs2 with its own arguments; returns mount(8)'s exit code. */
export async function runMountHelperCli(argv: string[]): Promise<number> {
  const [{ NativeBackend }, { nativeSystem }, { readVolumeFromDisk }, { runMountHelper }, bd] = await Promise.all([
    import('../../kernel/backend.js'),
    import('../../kernel/system.js'),
    import('../../stack/volumes.js'),
    import('../../stack/mountHelper.js'),
    import('../../kernel/blockdev.js'),
  ]);
  // UUID=... and LABEL=... (mount(8) resolves them itself; a helper run by hand may get them)
  const resolveSpec = (spec: string): string => {
    const [key, value] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
    const fail = (message: string, hint: string) => Object.assign(new Error(message), { code: 'E_MOUNT_SPEC', hint });
    if (key === 'UUID') {
      const v = bd.findByUuid(value);
      if (!v) throw fail(`${spec}: no block device holds an OCFS2 volume with this UUID`, 'o2stack volume list shows the volumes found');
      return v.device;
    }
    if (key === 'LABEL') {
      const vs = bd.findByLabel(value);
      if (vs.length !== 1) throw fail(vs.length ? `${spec}: ${vs.length} devices hold a volume with this label (${vs.map((v) => v.device).join(', ')})` : `${spec}: no block device holds an OCFS2 volume with this label`, vs.length ? 'mount by device or UUID=' : 'o2stack volume list shows the volumes found');
      return vs[0]!.device;
    }
    throw fail(`${spec}: only UUID= and LABEL= are understood`, 'give the device path');
  };
  const r = await runMountHelper(argv, { b: new NativeBackend({ root: '/' }), sys: nativeSystem, read: readVolumeFromDisk, resolveSpec, out: writeOut, err: writeErr });
  return r.code;
}

const OCF_DIR = '/usr/lib/ocf/resource.d/o2stack';

/** The package's agent templates (ocf/) with this CLI's absolute invocation filled in. */
export async function renderedAgents(): Promise<Record<'o2stack-daemon' | 'o2stack-o2cb', string>> {
  const [{ packageDir }, { cliInvocation }, { OCF_AGENT_NAMES, renderOcfAgent }] = await Promise.all([
    import('../../kernel/native.js'),
    import('./mount.js'),
    import('../../model/ocfAgents.js'),
  ]);
  const cli = cliInvocation();
  const out = {} as Record<(typeof OCF_AGENT_NAMES)[number], string>;
  for (const name of OCF_AGENT_NAMES) out[name] = renderOcfAgent(readFileSync(join(packageDir(), 'ocf', name), 'utf8'), cli);
  return out;
}

export function register(program: Command): void {
  const helpers = program.command('helpers').description("install or remove the programs mount(8) runs for OCFS2 (mount.ocfs2) and the Pacemaker resource agents (ocf:o2stack:o2stack-daemon, ocf:o2stack:o2stack-o2cb)");
  helpers
    .command('install')
    .description('write o2stack’s mount.ocfs2 where mount(8) finds it (/sbin), and the Pacemaker resource agents ocf:o2stack:o2stack-daemon and ocf:o2stack:o2stack-o2cb (/usr/lib/ocf/resource.d/o2stack); a file that is not ours is replaced only with --replace-ocfs2-tools or --replace-existing (mount.ocfs2, kept for helpers remove), never in the agents\' directory')
    .option('--replace-ocfs2-tools', 'replace ocfs2-tools’ own mount.ocfs2 (kept as a backup)')
    .option('--replace-existing', 'replace another program found there (kept as a backup)')
    .option('--sbin <dir>', 'the directory mount(8) searches', '/sbin')
    .option('--ocf-dir <dir>', "Pacemaker's OCF provider directory for the agents", OCF_DIR)
    .option('--no-ocf', 'do not install the Pacemaker resource agents')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { replaceOcfs2Tools?: boolean; replaceExisting?: boolean; sbin: string; ocfDir: string; ocf: boolean }>();
      const [{ installMountHelper, installOcfAgents }, { mountHelperWrapper }, { HELPER_MARKER }] = await Promise.all([import('../../stack/helpers.js'), import('./mount.js'), import('../../model/helperInstall.js')]);
      const env = { root: o.root ?? '/', dir: o.ocfDir };
      // the agents' plan first (a foreign file there refuses before anything is written)
      const agents = o.ocf ? await renderedAgents() : undefined;
      if (agents) await installOcfAgents(agents, { ...env, planOnly: true });
      const r = await installMountHelper(mountHelperWrapper(HELPER_MARKER), { replaceOcfs2Tools: o.replaceOcfs2Tools, replaceExisting: o.replaceExisting }, { root: o.root ?? '/', sbin: o.sbin });
      const a = agents ? await installOcfAgents(agents, env) : undefined;
      if (o.json) {
        return printJson({ path: r.path, realPath: r.realPath, noop: r.noop && (a?.noop ?? true), actions: r.actions.map((x) => ('manifest' in x ? { op: x.op, path: x.path } : x)), explain: r.explain, ...(a ? { ocf: { dir: a.dir, noop: a.noop, actions: a.actions, explain: a.explain } } : {}) });
      }
      writeOut(r.explain.map((l) => `${l}\n`).join('') + (r.noop ? '' : `installed: mount -t ocfs2 now runs o2stack's mount.ocfs2 (${r.realPath})\n`));
      if (a) writeOut(a.explain.map((l) => `${l}\n`).join('') + (a.noop ? '' : `installed: Pacemaker resource agents ocf:o2stack:o2stack-daemon and ocf:o2stack:o2stack-o2cb (${a.dir})\n`));
    });
  helpers
    .command('remove')
    .description('remove o2stack’s mount.ocfs2 and put back what was there before helpers install; remove its Pacemaker resource agents')
    .option('--sbin <dir>', 'the directory mount(8) searches', '/sbin')
    .option('--ocf-dir <dir>', "Pacemaker's OCF provider directory of the agents", OCF_DIR)
    .option('--no-ocf', 'leave the Pacemaker resource agents installed')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & { sbin: string; ocfDir: string; ocf: boolean }>();
      const { removeMountHelper, removeOcfAgents } = await import('../../stack/helpers.js');
      const r = await removeMountHelper({ root: o.root ?? '/', sbin: o.sbin });
      const a = o.ocf ? removeOcfAgents({ root: o.root ?? '/', dir: o.ocfDir }) : undefined;
      if (o.json) return printJson({ path: r.path, realPath: r.realPath, noop: r.noop && (a?.noop ?? true), actions: r.actions, explain: r.explain, ...(a ? { ocf: { dir: a.dir, noop: a.noop, actions: a.actions, explain: a.explain } } : {}) });
      writeOut([...r.explain, ...(a?.explain ?? [])].map((l) => `${l}\n`).join(''));
    });
}
