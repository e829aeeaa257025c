// o2stack(8) and bash completion are generated from the command table: every command and option
// the CLI accepts is in them, and the completion completes the way bash users expect.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { buildProgram } from '../../lib/cli/main.js';
import { bashCompletion, commandTree, manPage, roff } from '../../lib/cli/manPage.js';
import { EXIT_MEANINGS } from '../../lib/cli/output.js';

const info = { version: '9.9.9', date: '2026-12-05', exitCodes: EXIT_MEANINGS };

describe('o2stack(8) and shell completion from the command table', function () {
  const program = buildProgram();

  it('the man page has every command (with its usage) and every visible option, and the exit codes', function () {
    const page = manPage(program, info);
    const tree = commandTree(program);
    assert.ok(tree.length > 40, `${tree.length} commands`);
    for (const { path, cmd } of tree) {
      assert.ok(page.includes(`.SS "${roff(['o2stack', ...path].join(' '))} ${roff(cmd.usage())}"`), `command ${path.join(' ')}`);
      for (const o of cmd.options) if (!o.hidden) assert.ok(page.includes(`.B ${roff(o.flags)}\n`), `${path.join(' ')} ${o.flags}`);
    }
    for (const o of program.options) assert.ok(page.includes(`.B ${roff(o.flags)}\n`), o.flags);
    for (const code of Object.keys(EXIT_MEANINGS)) assert.match(page, new RegExp(`^\\.TP\\n\\.B ${code}\\n`, 'm'));
    assert.match(page, /^\.TH O2STACK 8 "2026-12-05" "ocfs2-stack 9\.9\.9"/);
  });

  it('text cannot inject roff requests: a description line starting with a dot or quote is escaped, backslashes too', function () {
    const p = new Command('x').description('d');
    p.command('evil').description('.so /etc/passwd\n\'br\nback\\slash');
    const page = manPage(p, info);
    assert.doesNotMatch(page, /^\.so/m);
    assert.doesNotMatch(page, /^'br/m);
    assert.match(page, /^\\&\.so \/etc\/passwd$/m);
    assert.match(page, /back\\eslash/);
  });

  it('bash completes commands, subcommands and options at each level, and file names after a valued option', function () {
    if (spawnSync('bash', ['-c', 'true']).status !== 0) this.skip(); // no bash here
    const script = bashCompletion(program);
    const complete = (line: string) => {
      const words = line.split(' ');
      const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _o2stack; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: '/' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    assert.deepEqual(complete('o2stack no'), ['node']);
    assert.deepEqual(complete('o2stack node '), ['--config', '--help', '--json', '--root', '--version', '-V', 'add', 'list', 'remove'].sort());
    assert.deepEqual(complete('o2stack --root /x node a'), ['add'], 'a valued global option before the command is skipped');
    assert.ok(complete('o2stack node add n1 --').includes('--ip'));
    assert.ok(complete('o2stack --config ').includes('etc'), 'a file name after --config');
    assert.ok(complete('o2stack o2cb list-c').includes('list-cluster'));
  });
});
