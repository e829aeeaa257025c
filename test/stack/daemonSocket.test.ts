// The daemon and its control socket's path: a second daemon on a path in use is refused before it
// touches fs/dlm (and the first keeps its socket); fence-ack of a node that is not in the cluster
// is refused.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import { DaemonRefusal } from '../../lib/stack/daemon/daemon.js';
import { FakeDaemonCluster } from '../support/fakeDaemonCluster.js';

describe('o2stack daemon: the control socket path', function () {
  this.timeout(15000);
  let f: FakeDaemonCluster;
  beforeEach(() => (f = new FakeDaemonCluster('o2d-sock-', [1, 2])));
  afterEach(() => f.close());

  it('a second daemon on a socket another daemon answers on: refused before fs/dlm is touched; the first still answers', async function () {
    await f.start(1);
    await assert.rejects(f.start(2, { socketPath: f.socket(1) }), (e: Error) => e instanceof DaemonRefusal && /another o2stack daemon answers on .*n1\.sock/.test(e.message));
    assert.equal(existsSync(join(f.root(2), 'sys/kernel/config/dlm/cluster')), false, 'configfs written by the refused daemon');
    assert.equal(((await request(f.socket(1), 'status')) as { cluster: string }).cluster, 'demo');
  });

  it('a socket path that is a regular file: refused, the file kept', async function () {
    const p = join(f.dir, 'file');
    writeFileSync(p, 'keep me\n');
    await assert.rejects(f.start(1, { socketPath: p }), (e: Error) => e instanceof DaemonRefusal && /is not a socket \(a regular file\)/.test(e.message));
    assert.equal(readFileSync(p, 'utf8'), 'keep me\n');
    assert.equal(existsSync(join(f.root(1), 'sys/kernel/config/dlm/cluster')), false);
  });

  it('fence-ack of a node that is not in the cluster, or of this node: refused, nothing acknowledged', async function () {
    await f.start(1);
    await assert.rejects(request(f.socket(1), 'fence-ack 9'), /node 9 is not a node of cluster demo \(its nodes: 1, 2\): nothing acknowledged/);
    await assert.rejects(request(f.socket(1), 'fence-ack 1'), /node 1 is this node/);
    await assert.rejects(request(f.socket(1), 'fence-ack x'), /a node id is needed/);
  });
});
