import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, request } from '../../lib/stack/daemon/controlSocket.js';
import { findDlmControld } from '../../lib/stack/daemon/controld.js';
import { pickLocalNode } from '../../lib/stack/daemon/daemon.js';
import { fenceInput, runFenceAgent } from '../../lib/stack/daemon/fence.js';
import { LivenessProbe } from '../../lib/stack/daemon/liveness.js';
import { sdNotify } from '../../lib/stack/daemon/notify.js';

describe('o2stack daemon pieces (host)', function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'o2d-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const agent = (body: string) => {
    const p = join(dir, 'agent.sh');
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };

  it('fence agent: key=value lines on stdin, exit 0 = success, else failure; time limit kills it', async function () {
    assert.equal(fenceInput({ nodeid: 2, failTime: 1_700_000_000_123, args: { port: 'x', node: '9' } }), 'port=x\nnode=2\nfail_time=1700000000\n');
    const out = join(dir, 'stdin');
    const ok = await runFenceAgent({ agent: agent(`cat > ${out}; echo fenced`), nodeid: 2, failTime: 5000 });
    assert.equal(ok.ok, true);
    assert.equal(ok.detail, 'exit 0');
    assert.equal(ok.output, 'fenced\n');
    assert.equal(readFileSync(out, 'utf8'), 'node=2\nfail_time=5\n');
    const bad = await runFenceAgent({ agent: agent('exit 3'), nodeid: 2, failTime: 0 });
    assert.deepEqual([bad.ok, bad.detail], [false, 'exit 3']);
    const slow = await runFenceAgent({ agent: agent('exec sleep 30'), nodeid: 2, failTime: 0, timeoutMs: 300 });
    assert.equal(slow.ok, false);
    assert.match(slow.detail, /timeout after 300 ms/);
    const missing = await runFenceAgent({ agent: join(dir, 'nope'), nodeid: 2, failTime: 0 });
    assert.match(missing.detail, /spawn error/);
  });

  it('control socket: mode 0600, one JSON answer per request line, errors and unknown commands', async function () {
    const path = join(dir, 'o2.sock');
    const s = new ControlServer(path, { status: () => ({ up: true }), boom: () => { throw new Error('nope'); } });
    await s.listen();
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(await request(path, 'status'), { up: true });
      await assert.rejects(request(path, 'boom'), /nope/);
      await assert.rejects(request(path, 'what'), /unknown command 'what'/);
      // a second server on a live socket is refused
      await assert.rejects(new ControlServer(path, {}).listen(), /another o2stack daemon answers on/);
    } finally {
      s.close();
    }
    await assert.rejects(request(path, 'status'), /not running/);
  });

  it('dlm_controld detection: /proc/<pid>/comm, or a lockfile naming a live pid', function () {
    const proc = join(dir, 'proc');
    mkdirSync(join(proc, '42'), { recursive: true });
    writeFileSync(join(proc, '42', 'comm'), 'bash\n');
    assert.equal(findDlmControld(proc, [join(dir, 'none.pid')]), undefined);
    writeFileSync(join(dir, 'lock.pid'), `${process.pid}\n`);
    assert.deepEqual(findDlmControld(proc, [join(dir, 'lock.pid')]), { pid: process.pid, how: join(dir, 'lock.pid') });
    mkdirSync(join(proc, '77'));
    writeFileSync(join(proc, '77', 'comm'), 'dlm_controld\n');
    assert.equal(findDlmControld(proc, [])?.pid, 77);
  });

  it('local node: --node-id, else the entry named like this host', function () {
    const nodes = [{ nodeid: 1, name: 'n1' }, { nodeid: 2, name: 'n2' }];
    assert.equal(pickLocalNode(nodes, undefined, 'n2.example'), 2);
    assert.equal(pickLocalNode(nodes, 1, 'x'), 1);
    assert.throws(() => pickLocalNode(nodes, 3, 'x'), /--node-id 3 is not in/);
    assert.throws(() => pickLocalNode(nodes, undefined, 'x'), /not named in the members list/);
  });

  it('liveness: a peer that answered once and then goes silent is dead; back when it answers again', async function () {
    // the "peer" is a plain listener on 127.0.0.2 with the probe port
    const port = 20000 + Math.floor(Math.random() * 20000);
    const events: string[] = [];
    const peer = createServer((c) => { c.on('error', () => undefined); c.end('o2stack 2\n'); });
    await new Promise<void>((r) => peer.listen(port, '127.0.0.2', r));
    const p = new LivenessProbe({ localNodeId: 1, bind: '127.0.0.1', peers: [{ nodeid: 2, address: '127.0.0.2' }], port, intervalMs: 50, deadMs: 300, onDead: (id) => events.push(`dead ${id}`), onBack: (id) => events.push(`back ${id}`) });
    await p.start();
    try {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(events.length, 0);
      assert.equal(p.state()[0]!.dead, false);
      await new Promise<void>((r) => peer.close(() => r()));
      const end = Date.now() + 3000;
      while (!events.includes('dead 2') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(events, ['dead 2']);
      const again = createServer((c) => { c.on('error', () => undefined); c.end('o2stack 2\n'); });
      await new Promise<void>((r) => again.listen(port, '127.0.0.2', r));
      const end2 = Date.now() + 3000;
      while (!events.includes('back 2') && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
      again.close();
      assert.deepEqual(events, ['dead 2', 'back 2']);
    } finally {
      p.close();
      peer.close();
    }
  });

  it('sd_notify: no-op without NOTIFY_SOCKET; one datagram to a path or an abstract socket', function () {
    const saved = process.env.NOTIFY_SOCKET;
    try {
      delete process.env.NOTIFY_SOCKET;
      assert.equal(sdNotify('READY=1'), false);
      const py = spawnSync('python3', ['-c', '1']);
      if (py.status !== 0) return this.skip();
      for (const addr of [join(dir, 'notify.sock'), `@o2stack-test-${process.pid}`]) {
        const pyAddr = addr.startsWith('@') ? `'\\0${addr.slice(1)}'` : `'${addr}'`;
        const recv = join(dir, 'got');
        // python binds, signals readiness with a file, receives one datagram
        const script = `import socket,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${pyAddr})\nopen('${recv}.ready','w').close()\ns.settimeout(10)\nopen('${recv}','wb').write(s.recv(4096))\n`;
        const child = spawnSync('sh', ['-c', `python3 -c "$0" & p=$!; n=0; while [ ! -e ${recv}.ready ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done; NOTIFY_SOCKET='${addr}' ${process.execPath} --import tsx -e "import('${join(process.cwd(), 'lib/stack/daemon/notify.ts')}').then(m => console.log(m.sdNotify('READY=1\\\\nSTATUS=x')))"; wait $p`, script], { encoding: 'utf8' });
        assert.equal(child.stdout.trim(), 'true', child.stderr);
        assert.equal(readFileSync(recv, 'utf8'), 'READY=1\nSTATUS=x');
        rmSync(`${recv}.ready`);
      }
    } finally {
      if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
    }
  });
});
