// The OCF resource agents in ocf/, rendered as `o2stack helpers install` renders them but with a
// fake o2stack CLI (a shell script logging its arguments; its state in files) and a fake
// crm_attribute on PATH, run as Pacemaker runs them (OCF_RESKEY_* in the environment, the action as
// the argument), without resource-agents' ocf-shellfuncs (the agents' own fallback). Their
// meta-data is checked with an XML parser. ocf-tester against real Pacemaker: the VM suite
// pacemaker.two.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SaxesParser } from 'saxes';
import { OCF_AGENT_NAMES, renderOcfAgent } from '../../lib/model/ocfAgents.js';

const OCF = fileURLToPath(new URL('../../ocf/', import.meta.url));
const OCF_SUCCESS = 0, OCF_ERR_GENERIC = 1, OCF_ERR_UNIMPLEMENTED = 3, OCF_ERR_CONFIGURED = 6, OCF_NOT_RUNNING = 7;

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

/** A strict XML parse (saxes) into a small tree; throws on any XML error. */
function parseXml(xml: string): El {
  const p = new SaxesParser({ xmlns: false });
  const stack: El[] = [];
  let root: El | undefined;
  p.on('error', (e) => {
    throw e;
  });
  p.on('opentag', (t) => {
    const el: El = { name: t.name, attrs: t.attributes as Record<string, string>, children: [], text: '' };
    if (stack.length) stack.at(-1)!.children.push(el);
    else root = el;
    stack.push(el);
  });
  p.on('text', (t) => {
    if (stack.length) stack.at(-1)!.text += t;
  });
  p.on('closetag', () => void stack.pop());
  p.write(xml).close();
  return root!;
}

class Bench {
  readonly dir = mkdtempSync(join(tmpdir(), 'o2s-ocf-'));
  readonly bin = join(this.dir, 'bin');
  readonly log = join(this.dir, 'o2stack.log');
  readonly mounts = join(this.dir, 'mounts');
  constructor() {
    mkdirSync(this.bin);
    // the fake CLI: `daemon` runs (sleeps) until SIGTERM, its socket "answers" while it runs;
    // o2cb state in a file; O2CB_STOP_RC makes stop fail
    writeFileSync(
      join(this.dir, 'o2stack'),
      `#!/bin/sh
D=${this.dir}
echo "$*" >> $D/o2stack.log
case "$1" in
  --version) echo 0.1.0 ;;
  daemon) echo $$ > $D/daemon.running; trap 'rm -f $D/daemon.running; exit 0' TERM; while :; do sleep 0.1; done ;;
  daemon-ctl) if [ -f $D/daemon.running ] && [ ! -f $D/daemon.hung ]; then echo '{"pid": '"$(cat $D/daemon.running)"', "cluster": "demo"}'; exit 0; fi; echo "o2stack: the o2stack daemon is not running" >&2; exit 3 ;;
  config) exit 0 ;;
  status) [ -f $D/o2cb.running ] && exit 0; exit 3 ;;
  start) touch $D/o2cb.running; echo "cluster demo started" ;;
  stop) if [ -n "$O2CB_STOP_RC" ]; then echo "o2stack: cannot stop: /dev/vdb is mounted on /mnt" >&2; exit $O2CB_STOP_RC; fi; rm -f $D/o2cb.running; echo stopped ;;
  *) exit 2 ;;
esac
`,
    );
    writeFileSync(join(this.bin, 'crm_attribute'), `#!/bin/sh\necho "$*" >> ${this.dir}/crm_attribute.log\n[ -n "$STONITH_ENABLED" ] || exit 6\necho "$STONITH_ENABLED"\n`);
    writeFileSync(this.mounts, '');
    chmodSync(join(this.dir, 'o2stack'), 0o755);
    chmodSync(join(this.bin, 'crm_attribute'), 0o755);
    for (const name of OCF_AGENT_NAMES) {
      writeFileSync(join(this.dir, name), renderOcfAgent(readFileSync(join(OCF, name), 'utf8'), { dir: this.dir, exec: `'${join(this.dir, 'o2stack')}'` }));
      chmodSync(join(this.dir, name), 0o755);
    }
  }

  run(agent: string, action: string, env: Record<string, string> = {}) {
    const r = spawnSync(join(this.dir, agent), [action], {
      encoding: 'utf8',
      timeout: 20000,
      env: {
        PATH: `${this.bin}:/usr/bin:/bin:/usr/sbin:/sbin`,
        OCF_ROOT: join(this.dir, 'no-ocf-root'),
        OCF_RESOURCE_INSTANCE: `${agent}:0`,
        OCF_RESKEY_socket: join(this.dir, 'o2.sock'),
        OCF_RESKEY_pidfile: join(this.dir, 'daemon.pid'),
        OCF_RESKEY_logfile: join(this.dir, 'daemon.log'),
        O2STACK_PROC_MOUNTS: this.mounts,
        ...env,
      },
    });
    return { code: r.status, out: r.stdout, err: r.stderr, reason: /ocf-exit-reason:(.*)/.exec(r.stderr)?.[1] ?? '' };
  }

  calls(): string[] {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8').trim().split('\n') : [];
  }

  close() {
    if (existsSync(join(this.dir, 'daemon.running'))) {
      try {
        process.kill(Number(readFileSync(join(this.dir, 'daemon.running'), 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('OCF agents: meta-data', function () {
  let b: Bench;
  before(() => (b = new Bench()));
  after(() => b.close());

  for (const name of OCF_AGENT_NAMES) {
    it(`${name}: well-formed XML in the OCF shape (resource-agent, parameters with both descriptions and a content type, the five actions)`, function () {
      const r = b.run(name, 'meta-data');
      assert.equal(r.code, OCF_SUCCESS, r.err);
      const ra = parseXml(r.out);
      assert.equal(ra.name, 'resource-agent');
      assert.equal(ra.attrs.name, name);
      const child = (e: El, n: string) => e.children.filter((c) => c.name === n);
      for (const n of ['version', 'longdesc', 'shortdesc', 'parameters', 'actions']) assert.equal(child(ra, n).length, 1, n);
      const params = child(child(ra, 'parameters')[0]!, 'parameter');
      assert.ok(params.length >= 3);
      for (const p of params) {
        assert.match(p.attrs.name!, /^[a-z_]+$/);
        assert.ok(child(p, 'longdesc')[0]?.text.trim() && child(p, 'shortdesc')[0]?.text.trim(), `${p.attrs.name}: descriptions`);
        assert.match(child(p, 'content')[0]?.attrs.type ?? '', /^(string|boolean|integer)$/, `${p.attrs.name}: content type`);
      }
      const actions = child(child(ra, 'actions')[0]!, 'action').map((a) => a.attrs.name);
      assert.deepEqual([...actions].sort(), ['meta-data', 'monitor', 'start', 'stop', 'validate-all']);
      if (name === 'o2stack-daemon') {
        const def = (n: string) => child(params.find((p) => p.attrs.name === n)!, 'content')[0]!.attrs.default;
        assert.equal(def('fence'), 'pacemaker');
        assert.equal(def('allow_stonith_disabled'), 'false');
      }
    });
  }

  it('the parser used here rejects broken XML (so the test above can fail)', function () {
    assert.throws(() => parseXml('<resource-agent><parameters></resource-agent>'));
  });
});

describe('OCF agent o2stack-daemon (fake o2stack and crm_attribute)', function () {
  this.timeout(30000);
  let b: Bench;
  beforeEach(() => (b = new Bench()));
  afterEach(() => b.close());

  it('stonith-enabled=false: start refused (OCF_ERR_CONFIGURED) with the reason and both fixes; nothing started', function () {
    const r = b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'false' });
    assert.equal(r.code, OCF_ERR_CONFIGURED, r.err);
    assert.match(r.reason, /stonith-enabled=false in the cluster.*stonith-enabled=true.*allow_stonith_disabled=true/);
    assert.ok(!b.calls().some((c) => c.startsWith('daemon ')), b.calls().join('\n'));
    assert.match(readFileSync(join(b.dir, 'crm_attribute.log'), 'utf8'), /--type crm_config --name stonith-enabled --query/);
  });

  it('start (stonith enabled, or the property unset) → monitor 0 → stop → monitor 7; the daemon gets --fence-pacemaker, the socket, daemon_options', function () {
    assert.equal(b.run('o2stack-daemon', 'monitor').code, OCF_NOT_RUNNING);
    const s = b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'true', OCF_RESKEY_daemon_options: '--post-join-delay 5000' });
    assert.equal(s.code, OCF_SUCCESS, s.err);
    assert.ok(b.calls().includes(`daemon --fence-pacemaker --socket ${join(b.dir, 'o2.sock')} --post-join-delay 5000`), b.calls().join('\n'));
    assert.equal(b.run('o2stack-daemon', 'monitor').code, OCF_SUCCESS);
    assert.equal(b.run('o2stack-daemon', 'start').code, OCF_SUCCESS, 'start is idempotent (the property unset counts as enabled)');
    assert.equal(b.calls().filter((c) => c.startsWith('daemon ')).length, 1, 'started once');
    assert.equal(b.run('o2stack-daemon', 'stop').code, OCF_SUCCESS);
    assert.equal(existsSync(join(b.dir, 'daemon.running')), false, 'the daemon got SIGTERM and exited');
    assert.equal(b.run('o2stack-daemon', 'monitor').code, OCF_NOT_RUNNING);
    assert.equal(b.run('o2stack-daemon', 'stop').code, OCF_SUCCESS, 'stop is idempotent');
  });

  it('allow_stonith_disabled=true starts with stonith-enabled=false; fence=manual and fence=/path map to their options', function () {
    const agent = join(b.dir, 'fence_x');
    writeFileSync(agent, '#!/bin/sh\nexit 0\n');
    chmodSync(agent, 0o755);
    assert.equal(b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'false', OCF_RESKEY_allow_stonith_disabled: 'true', OCF_RESKEY_fence: 'manual' }).code, OCF_SUCCESS);
    assert.ok(b.calls().some((c) => c.startsWith('daemon --fence-manual --socket')), b.calls().join('\n'));
    assert.equal(b.run('o2stack-daemon', 'stop').code, OCF_SUCCESS);
    assert.equal(b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'false', OCF_RESKEY_fence: agent }).code, OCF_SUCCESS, 'an own agent does not depend on stonith-enabled');
    assert.ok(b.calls().some((c) => c.startsWith(`daemon --fence-agent ${agent} --socket`)), b.calls().join('\n'));
  });

  it('stop refused (OCF_ERR_GENERIC) while a user-stack OCFS2 volume is mounted; an o2cb volume does not count', function () {
    assert.equal(b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'true' }).code, OCF_SUCCESS);
    writeFileSync(b.mounts, '/dev/vda / ext4 rw 0 0\n/dev/vdc /srv/o2 ocfs2 rw,relatime,heartbeat=local,cluster_stack=o2cb 0 0\n');
    assert.equal(b.run('o2stack-daemon', 'stop').code, OCF_SUCCESS, 'an o2cb volume is not the daemon\'s');
    assert.equal(b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'true' }).code, OCF_SUCCESS);
    writeFileSync(b.mounts, '/dev/vdb /mnt/shared ocfs2 rw,relatime,cluster_stack=pcmk,coherency=full 0 0\n');
    const r = b.run('o2stack-daemon', 'stop');
    assert.equal(r.code, OCF_ERR_GENERIC);
    assert.match(r.reason, /OCFS2 user-stack volumes are mounted here \(\/dev\/vdb on \/mnt\/shared;\): unmount them.*order the Filesystem resources after this one/);
    assert.equal(b.run('o2stack-daemon', 'monitor').code, OCF_SUCCESS, 'still running');
  });

  it('a daemon that runs but does not answer: monitor OCF_ERR_GENERIC; bad parameters: validate-all OCF_ERR_CONFIGURED; unknown action: 3', function () {
    assert.equal(b.run('o2stack-daemon', 'start', { STONITH_ENABLED: 'true' }).code, OCF_SUCCESS);
    writeFileSync(join(b.dir, 'daemon.hung'), '');
    const m = b.run('o2stack-daemon', 'monitor');
    assert.equal(m.code, OCF_ERR_GENERIC);
    assert.match(m.reason, /runs but does not answer/);
    assert.equal(b.run('o2stack-daemon', 'validate-all', { OCF_RESKEY_fence: 'sometimes' }).code, OCF_ERR_CONFIGURED);
    const v = b.run('o2stack-daemon', 'validate-all', { OCF_RESKEY_daemon_options: '--unsafe-skip-fencing' });
    assert.equal(v.code, OCF_ERR_CONFIGURED);
    assert.match(v.reason, /names a fence method: set the fence parameter/);
    assert.equal(b.run('o2stack-daemon', 'validate-all').code, OCF_SUCCESS);
    assert.equal(b.run('o2stack-daemon', 'reload').code, OCF_ERR_UNIMPLEMENTED);
  });
});

describe('OCF agent o2stack-o2cb (fake o2stack)', function () {
  this.timeout(30000);
  let b: Bench;
  beforeEach(() => (b = new Bench()));
  afterEach(() => b.close());

  it('monitor 7 → start (o2stack start --config FILE --cluster C) → monitor 0 → stop → 7; a refused stop is OCF_ERR_GENERIC with o2stack\'s reason', function () {
    const conf = join(b.dir, 'cluster.conf');
    writeFileSync(conf, 'cluster:\n\tname = demo\n');
    const env = { OCF_RESKEY_config: conf, OCF_RESKEY_cluster: 'demo' };
    assert.equal(b.run('o2stack-o2cb', 'monitor', env).code, OCF_NOT_RUNNING);
    assert.equal(b.run('o2stack-o2cb', 'start', env).code, OCF_SUCCESS);
    assert.ok(b.calls().includes(`start --config ${conf} --cluster demo`), b.calls().join('\n'));
    assert.equal(b.run('o2stack-o2cb', 'monitor', env).code, OCF_SUCCESS);
    const r = b.run('o2stack-o2cb', 'stop', { ...env, O2CB_STOP_RC: '1' });
    assert.equal(r.code, OCF_ERR_GENERIC);
    assert.match(r.reason, /o2stack stop failed \(exit 1\): o2stack: cannot stop: \/dev\/vdb is mounted on \/mnt.*order the Filesystem resources after this one/);
    assert.equal(b.run('o2stack-o2cb', 'stop', env).code, OCF_SUCCESS);
    assert.equal(b.run('o2stack-o2cb', 'monitor', env).code, OCF_NOT_RUNNING);
    assert.equal(b.run('o2stack-o2cb', 'stop', env).code, OCF_SUCCESS, 'stop is idempotent');
  });

  it('no cluster.conf: start and validate-all say so (OCF_ERR_CONFIGURED)', function () {
    const r = b.run('o2stack-o2cb', 'start', { OCF_RESKEY_config: join(b.dir, 'none.conf') });
    assert.equal(r.code, OCF_ERR_CONFIGURED);
    assert.match(r.reason, /no .*none\.conf on this node/);
  });
});
