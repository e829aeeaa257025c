// The cluster harness's /dev/shm cleanup (test/cluster/netns.ts removeCorosyncShm): only the files
// of the corosync it names, whatever else shares the directory.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCorosyncShm } from './netns.js';

describe('removeCorosyncShm (test/cluster/netns.ts)', function () {
  it("removes one corosync's IPC directories and blackbox, nothing of another PID's or of others", function () {
    const shm = mkdtempSync(join(tmpdir(), 'o2s-shm-'));
    try {
      for (const d of ['qb-123-456-28-aBcDeF', 'qb-123-789-29-xYz', 'qb-1234-456-28-other', 'qb-23-456-28-other']) {
        mkdirSync(join(shm, d));
        writeFileSync(join(shm, d, 'qb-request-cpg-header'), 'x');
      }
      for (const f of ['qb-corosync-123-blackbox-data', 'qb-corosync-123-blackbox-header', 'qb-corosync-1234-blackbox-data', 'qb-pacemakerd-123-blackbox-data', 'unrelated']) writeFileSync(join(shm, f), 'x');
      const removed = removeCorosyncShm(123, shm).sort();
      assert.deepEqual(removed, ['qb-123-456-28-aBcDeF', 'qb-123-789-29-xYz', 'qb-corosync-123-blackbox-data', 'qb-corosync-123-blackbox-header']);
      assert.deepEqual(readdirSync(shm).sort(), ['qb-1234-456-28-other', 'qb-23-456-28-other', 'qb-corosync-1234-blackbox-data', 'qb-pacemakerd-123-blackbox-data', 'unrelated']);
      assert.deepEqual(removeCorosyncShm(123, shm), [], 'nothing left of it');
      assert.deepEqual(removeCorosyncShm(1, join(shm, 'missing')), [], 'no directory: nothing, no throw');
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});
