// lib/cli/commands/index.ts: each module's list of top-level commands is what it registers (a run
// registers only the module of its command, so a missing name would make a command unknown).
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { commandModules, registerAll } from '../../lib/cli/commands/index.js';
import { main } from '../../lib/cli/main.js';
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
