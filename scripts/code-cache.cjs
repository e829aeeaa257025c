// Writes dist/o2stack-cli.cjs.<node version>-<arch>.cache (scripts/bin.cjs reads it): the V8 code cache of the CLI bundle after it has run the
// commands users run most (help, plan, apply, show, status, on a throw-away fake kernel tree), so
// their functions are in the cache too. Run by scripts/bundle.mjs; the cache is only valid for
// this Node binary (V8 rejects it elsewhere, and the CLI then compiles as usual).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadBundle, bundle, cacheFile } = require(path.join(__dirname, '..', 'dist', 'o2stack.cjs'));

async function main() {
  const { exports: cli, script } = loadBundle(undefined);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'o2s-code-cache-'));
  const conf = path.join(tmp, 'cluster.conf');
  fs.writeFileSync(
    conf,
    'cluster:\n\tnode_count = 2\n\tname = warm\n\n' +
      [1, 2].map((n) => `node:\n\tip_port = 7777\n\tip_address = 192.0.2.${n}\n\tnumber = ${n}\n\tname = n${n}\n\tcluster = warm\n`).join('\n'),
  );
  const root = path.join(tmp, 'root');
  const { makeFakeKernelTree } = await import(path.join(__dirname, '..', 'dist', 'kernel', 'fakeTree.js'));
  makeFakeKernelTree(root);
  const write = process.stdout.write;
  const ewrite = process.stderr.write;
  // the commands' output is not wanted here
  process.stdout.write = process.stderr.write = () => true;
  const codes = [];
  try {
    for (const argv of [
      ['--help'],
      ['plan', '--root', root, '--config', conf],
      ['apply', '--root', root, '--config', conf, '--node', 'n1'],
      ['apply', '--root', root, '--config', conf, '--node', 'n1'],
      ['show', '--root', root],
      ['status', '--root', root],
    ]) {
      codes.push(await cli.main(argv));
    }
  } finally {
    process.stdout.write = write;
    process.stderr.write = ewrite;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const data = script.createCachedData();
  for (const f of fs.readdirSync(path.dirname(bundle))) if (/^o2stack-cli\.cjs\..*cache$/.test(f)) fs.rmSync(path.join(path.dirname(bundle), f));
  fs.writeFileSync(cacheFile, data);
  console.log(`code cache: ${path.relative(process.cwd(), cacheFile)}, ${(data.length / 1024).toFixed(0)} KiB (warm-up exit codes ${codes.join(' ')})`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`code cache not written: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
