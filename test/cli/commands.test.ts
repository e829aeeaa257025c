// lib/cli/commands/index.ts: each module's list of top-level commands is what it registers (a run
// registers only the module of its command, so a missing name would make a command unknown).
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { commandModules, registerAll } from '../../lib/cli/commands/index.js';
import { IGNORES_ROOT, main } from '../../lib/cli/main.js';
import { VERSION } from '../../lib/version.js';
import { readFileSync } from 'node:fs';

describe('CLI command modules', function () {
  it('each module declares exactly the top-level commands (and aliases) it registers', function () {
    for (const m of commandModules) {
      const p = new Command('o2stack');
      m.register(p);
      const names = p.commands.flatMap((c) => [c.name(), ...c.aliases()]).sort();
      assert.deepEqual(names, [...m.commands].sort(), `module declaring ${m.commands.join(', ')}`);
    }
  });

  it('no command is declared by two modules', function () {
    const all = commandModules.flatMap((m) => m.commands);
    assert.equal(new Set(all).size, all.length);
  });

  it('registers one module for a known command, all for none or an unknown word', function () {
    const count = (word?: string) => {
      const p = new Command('o2stack');
      registerAll(p, word);
      return p.commands.length;
    };
    assert.equal(count('apply'), 3);
    const total = commandModules.reduce((n, m) => n + m.commands.length, 0);
    assert.equal(count(undefined), total);
    assert.equal(count('no-such-command'), total);
  });

  it('an unknown command still gets a usage error (exit 2) with every command known', async function () {
    const err = process.stderr.write;
    let out = '';
    process.stderr.write = ((s: string) => ((out += s), true)) as typeof process.stderr.write;
    try {
      assert.equal(await main(['aply']), 2);
    } finally {
      process.stderr.write = err;
    }
    assert.match(out, /apply/, 'commander suggests the right command');
  });

  it('--version prints the version of package.json', async function () {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version, 'lib/version.ts must follow package.json');
    const write = process.stdout.write;
    let out = '';
    process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
    try {
      assert.equal(await main(['--version']), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(out, `${VERSION}\n`);
  });
});

describe('--root is used or refused, never ignored', function () {
  it('a command that acts on no kernel tree refuses --root with a usage error (exit 2, E_USAGE under --json)', async function () {
    const args: Record<string, string[]> = {
      config: ['config', 'check', '/etc/hostname'],
      monitor: ['monitor'],
      lockspaces: ['lockspaces'],
      plocks: ['plocks'],
      'daemon-ctl': ['daemon-ctl', 'status'],
      groups: ['groups'],
      configure: ['configure', '--enabled', 'true'],
      completion: ['completion', 'bash'],
      man: ['man'],
    };
    assert.deepEqual(Object.keys(args).sort(), [...IGNORES_ROOT].sort());
    const write = process.stdout.write;
    for (const [name, a] of Object.entries(args)) {
      let out = '';
      process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
      let code: number;
      try {
        code = await main(['--json', '--root', '/tmp/o2s-no-such-root', ...a]);
      } finally {
        process.stdout.write = write;
      }
      assert.equal(code, 2, `${name}: ${out}`);
      const e = (JSON.parse(out) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'E_USAGE', name);
      assert.match(e.message, /--root is not used by o2stack/);
    }
  });

  it('every other command module acts on --root (its source passes it on)', function () {
    const files: Record<string, string> = { plan: 'o2nm', detect: 'stack', mount: 'mount', node: 'node', volume: 'volume', daemon: 'daemon', o2cb: 'o2cb', helpers: 'helpers', units: 'units' };
    for (const m of commandModules) {
      const honours = m.commands.filter((c) => !IGNORES_ROOT.has(c));
      if (honours.length === 0) continue;
      const file = files[m.commands[0]!];
      assert.ok(file, `module of ${m.commands.join(', ')}: say whether it uses --root (IGNORES_ROOT in lib/cli/main.ts)`);
      const src = readFileSync(new URL(`../../lib/cli/commands/${file}.ts`, import.meta.url), 'utf8');
      assert.match(src, /o\.root/, `${file}.ts uses o.root`);
    }
  });
});
