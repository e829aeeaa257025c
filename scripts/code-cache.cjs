// Writes dist/<bundle>.<node version>-<arch>.cache for both CLI bundles (scripts/bin.cjs reads
// them): the V8 code cache of each after it has run the commands users run most (the whole CLI:
// help, status and the rest; the o2nm bundle: plan, apply, show), on a throw-away fake kernel
// tree, so their functions are in the cache too. Run by scripts/bundle.mjs; a cache is only valid
// for this Node binary (V8 rejects it elsewhere, and the CLI then compiles as usual).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadBundle, bundles, cacheFileOf, bundleFor } = require(path.join(__dirname, '..', 'dist', 'o2stack.cjs'));

async function main() {
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
  const runs = [
    ['--help'],
    ['plan', '--root', root, '--config', conf],
    ['apply', '--root', root, '--config', conf, '--node', 'n1'],
    ['apply', '--root', root, '--config', conf, '--node', 'n1'],
    ['show', '--root', root],
    ['status', '--root', root],
  ];
  const write = process.stdout.write;
  const ewrite = process.stderr.write;
  const made = [];
  try {
    // o2nm first: its apply registers the cluster that status then shows
    for (const bundle of [bundles.o2nm, bundles.cli]) {
      const { exports: cli, script } = loadBundle(undefined, bundle);
      // the commands' output is not wanted here
      process.stdout.write = process.stderr.write = () => true;
      const codes = [];
      try {
        // each bundle runs what the bin gives it
        for (const argv of runs) {
          if (bundleFor(argv, 'o2stack') !== bundle) continue;
          process.exitCode = undefined; // a command may set it (status: 3 when offline)
          codes.push(await cli.main(argv));
        }
      } finally {
        process.stdout.write = write;
        process.stderr.write = ewrite;
      }
      const data = script.createCachedData();
      const base = path.basename(bundle);
      for (const f of fs.readdirSync(path.dirname(bundle))) if (f.startsWith(`${base}.`) && f.endsWith('.cache')) fs.rmSync(path.join(path.dirname(bundle), f));
      fs.writeFileSync(cacheFileOf(bundle), data);
      made.push(`${path.relative(process.cwd(), cacheFileOf(bundle))} ${(data.length / 1024).toFixed(0)} KiB (warm-up exit codes ${codes.join(' ')})`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`code caches: ${made.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`code cache not written: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
