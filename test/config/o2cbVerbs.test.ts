import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatClusterConf } from '../../lib/config/clusterConf.js';
import {
  addCluster,
  addHeartbeat,
  addNode,
  findCluster,
  formatListing,
  listingJson,
  readO2cbConf,
  removeCluster,
  removeHeartbeat,
  removeNode,
  setHeartbeatMode,
} from '../../lib/config/o2cbVerbs.js';
import { ConfigError } from '../../lib/model/errors.js';
import { arbCluster } from './arbitraries.js';

const F = '/etc/ocfs2/cluster.conf';

// What Debian's o2cb 1.8.7 wrote for: add-cluster web; add-node web n1 --ip 10.0.0.1;
// add-node --ip 10.0.0.2 --port 7778 --number 5 web n2; add-heartbeat web 0123…EF; add-heartbeat
// web 1123…EF; heartbeat-mode web global; add-cluster db; add-node db d1 --ip 10.0.1.1
const DEBIAN_FILE = `cluster:
\tname = web
\theartbeat_mode = global
\tnode_count = 2

cluster:
\tname = db
\theartbeat_mode = local
\tnode_count = 1

heartbeat:
\tcluster = web
\tregion = 0123456789ABCDEF0123456789ABCDEF

heartbeat:
\tcluster = web
\tregion = 1123456789ABCDEF0123456789ABCDEF

node:
\tcluster = web
\tnumber = 0
\tip_port = 7777
\tip_address = 10.0.0.1
\tname = n1

node:
\tcluster = web
\tnumber = 5
\tip_port = 7778
\tip_address = 10.0.0.2
\tname = n2

node:
\tcluster = db
\tnumber = 0
\tip_port = 7777
\tip_address = 10.0.1.1
\tname = d1

`;

// ... and what it printed for `list-cluster web` and `list-cluster --oneline web` on that file
const DEBIAN_LIST_WEB = `heartbeat:
\tregion = 0123456789ABCDEF0123456789ABCDEF
\tcluster = web

heartbeat:
\tregion = 1123456789ABCDEF0123456789ABCDEF
\tcluster = web

node:
\tnumber = 0
\tname = n1
\tip_address = 10.0.0.1
\tip_port = 7777
\tcluster = web

node:
\tnumber = 5
\tname = n2
\tip_address = 10.0.0.2
\tip_port = 7778
\tcluster = web

cluster:
\tnode_count = 2
\theartbeat_mode = global
\tname = web

`;
const DEBIAN_ONELINE_WEB = `heartbeat: 0123456789ABCDEF0123456789ABCDEF web
heartbeat: 1123456789ABCDEF0123456789ABCDEF web
node: 0 n1 10.0.0.1:7777 web
node: 5 n2 10.0.0.2:7778 web
cluster: 2 global web
`;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe("o2cb verbs: listings in o2cb's formats and cluster.conf edits", () => {
  it("list-cluster, list-nodes, list-heartbeats print what Debian's o2cb printed, stanza and --oneline", () => {
    const conf = readO2cbConf(DEBIAN_FILE, F);
    const web = findCluster(conf, 'web', F);
    assert.equal(formatListing(conf, web, 'cluster', false), DEBIAN_LIST_WEB);
    assert.equal(formatListing(conf, web, 'cluster', true), DEBIAN_ONELINE_WEB);
    assert.equal(formatListing(conf, web, 'nodes', true), 'node: 0 n1 10.0.0.1:7777 web\nnode: 5 n2 10.0.0.2:7778 web\n');
    assert.equal(formatListing(conf, web, 'heartbeats', true), 'heartbeat: 0123456789ABCDEF0123456789ABCDEF web\nheartbeat: 1123456789ABCDEF0123456789ABCDEF web\n');
    const db = findCluster(conf, 'db', F);
    assert.equal(formatListing(conf, db, 'cluster', true), 'node: 0 d1 10.0.1.1:7777 db\ncluster: 1 local db\n');
    assert.equal(formatListing(conf, db, 'heartbeats', false), '');
    assert.deepEqual(listingJson(conf, db, 'cluster'), { heartbeats: [], nodes: [{ number: 0, name: 'd1', ipAddress: '10.0.1.1', port: 7777, cluster: 'db' }], cluster: { name: 'db', nodeCount: 1, heartbeatMode: 'local' } });
  });

  it('prints nodes and regions in file order and node_count as written, as o2cb does', () => {
    const text = `node:\n\tname = zeta\n\tcluster = w\n\tnumber = 7\n\tip_address = 10.0.0.7\n\tip_port = 7777\n\ncluster:\n\tname = w\n\tnode_count = 5\n\theartbeat_mode = GLOBAL\n\nnode:\n\tname = alpha\n\tcluster = w\n\tnumber = 2\n\tip_address = 10.0.0.2\n\tip_port = 7777\n\nheartbeat:\n\tregion = FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n\tcluster = w\n\nheartbeat:\n\tregion = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\tcluster = w\n`;
    const conf = readO2cbConf(text, F);
    assert.equal(
      formatListing(conf, findCluster(conf, 'w', F), 'cluster', true),
      'heartbeat: FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF w\nheartbeat: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA w\nnode: 7 zeta 10.0.0.7:7777 w\nnode: 2 alpha 10.0.0.2:7777 w\ncluster: 5 global w\n',
    );
  });

  it('edits: add-cluster, add-node (lowest free number, 7777), add/remove-heartbeat (UUID upper-cased), heartbeat-mode, remove-node, remove-cluster', () => {
    let text: string | undefined;
    const step = (f: (c: ReturnType<typeof readO2cbConf>) => ReturnType<typeof addCluster>) => {
      text = formatClusterConf(f(readO2cbConf(text, F)));
    };
    step((c) => addCluster(c, 'web'));
    assert.equal(readO2cbConf(text, F).clusters[0]!.nodes.length, 0, 'a cluster with no nodes is a valid o2cb file');
    step((c) => addNode(c, 'web', { name: 'n1', ipAddress: '10.0.0.1' }, F));
    step((c) => addNode(c, 'web', { name: 'n2', ipAddress: '10.0.0.2', port: 7778, number: 5 }, F));
    step((c) => addNode(c, 'web', { name: 'n3', ipAddress: '10.0.0.3' }, F));
    step((c) => addHeartbeat(c, 'web', '0123456789abcdef0123456789abcdef', F));
    step((c) => setHeartbeatMode(c, 'web', 'GLOBAL', F));
    let conf = readO2cbConf(text, F);
    assert.equal(formatListing(conf, findCluster(conf, 'web', F), 'cluster', true), 'heartbeat: 0123456789ABCDEF0123456789ABCDEF web\nnode: 0 n1 10.0.0.1:7777 web\nnode: 5 n2 10.0.0.2:7778 web\nnode: 1 n3 10.0.0.3:7777 web\ncluster: 3 global web\n');
    assert.match(configError(() => addNode(conf, 'web', { name: 'n4', ipAddress: '10.0.0.4', number: 5 }, F)).message, /node number 5 is already used by node 'n2'/);
    assert.match(configError(() => addNode(conf, 'web', { name: 'n1', ipAddress: '10.0.0.9' }, F)).message, /already has a node 'n1'/);
    assert.match(configError(() => addNode(conf, 'nope', { name: 'x', ipAddress: '10.0.0.9' }, F)).message, /Unknown cluster 'nope' \(\/etc\/ocfs2\/cluster\.conf has: web\)/);
    assert.match(configError(() => addCluster(conf, 'web')).message, /cluster 'web' already exists/);
    assert.match(configError(() => addCluster(conf, 'bad-name')).message, /1–16 letters or digits/);
    assert.match(configError(() => addHeartbeat(conf, 'web', '0123456789ABCDEF0123456789ABCDEF', F)).message, /already in cluster 'web'/);
    assert.match(configError(() => addHeartbeat(conf, 'web', 'not-a-uuid', F)).message, /neither a heartbeat device nor a volume UUID/);
    assert.match(configError(() => setHeartbeatMode(conf, 'web', 'disk', F)).message, /not local or global/);
    step((c) => removeHeartbeat(c, 'web', '0123456789ABCDEF0123456789ABCDEF', F));
    step((c) => removeNode(c, 'web', 'n2', F));
    conf = readO2cbConf(text, F);
    assert.equal(formatListing(conf, findCluster(conf, 'web', F), 'cluster', true), 'node: 0 n1 10.0.0.1:7777 web\nnode: 1 n3 10.0.0.3:7777 web\ncluster: 2 global web\n');
    step((c) => removeCluster(c, 'web', F));
    assert.deepEqual(readO2cbConf(text, F).clusters, []);
    assert.deepEqual(readO2cbConf(undefined, F).clusters, [], 'a missing file is an empty configuration, as in o2cb');
  });

  it('still refuses what is really wrong in the file (duplicate numbers), with file:line', () => {
    const bad = DEBIAN_FILE.replace('\tnumber = 5\n', '\tnumber = 0\n');
    const e = configError(() => readO2cbConf(bad, F));
    assert.equal(e.issues[0]!.code, 'E_CONF_DUP_NUMBER');
    assert.equal(e.issues[0]!.file, F);
  });

  const debianO2cb = '/usr/sbin/o2cb';
  (existsSync(debianO2cb) ? it : it.skip)("property: on any valid file we write, every listing equals Debian's o2cb's (needs ocfs2-tools)", function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'o2cb-verbs-'));
    const file = join(dir, 'cluster.conf');
    try {
      fc.assert(
        fc.property(fc.uniqueArray(arbCluster({ o2cbNames: true }), { minLength: 1, maxLength: 3, selector: (c) => c.name }), (clusters) => {
          const text = formatClusterConf(clusters);
          writeFileSync(file, text);
          const conf = readO2cbConf(text, file);
          const run = (args: string[]) => spawnSync(debianO2cb, [`--config-file=${file}`, ...args], { encoding: 'utf8' });
          assert.equal(run(['list-clusters']).stdout, conf.clusters.map((c) => `${c.name}\n`).join(''));
          for (const c of conf.clusters) {
            for (const [verb, part] of [['list-cluster', 'cluster'], ['list-nodes', 'nodes'], ['list-heartbeats', 'heartbeats']] as const) {
              for (const oneline of [false, true]) {
                const theirs = run([verb, ...(oneline ? ['--oneline'] : []), c.name]);
                assert.equal(theirs.status, 0, theirs.stderr);
                assert.equal(formatListing(conf, c, part, oneline), theirs.stdout, `${verb}${oneline ? ' --oneline' : ''} ${c.name}\n${text}`);
              }
            }
          }
        }),
        { numRuns: 8 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
