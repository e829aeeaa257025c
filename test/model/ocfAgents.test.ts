// `o2stack helpers install|remove` for the OCF agents: rendering (the CLI's absolute invocation in
// the template) and the plans against what the provider directory holds.
import assert from 'node:assert/strict';
import { HELPER_MARKER, HelperRefusal } from '../../lib/model/helperInstall.js';
import { planOcfInstall, planOcfRemove, renderOcfAgent, type OcfAgentFacts } from '../../lib/model/ocfAgents.js';

const DIR = '/usr/lib/ocf/resource.d/o2stack';
const facts = (d: OcfAgentFacts['existing'], o: OcfAgentFacts['existing'] = d): OcfAgentFacts[] => [
  { name: 'o2stack-daemon', path: `${DIR}/o2stack-daemon`, existing: d },
  { name: 'o2stack-o2cb', path: `${DIR}/o2stack-o2cb`, existing: o },
];
const ours = { kind: 'file' as const, ours: true, sameAsNew: false };

describe('OCF agents: rendering', function () {
  it('the marker line, the directory quoted, the command everywhere it is used', function () {
    const t = "#!/bin/sh\n# @MARKER@ agent\nO2STACK_DIR=@O2STACK_DIR@\na() { @O2STACK_EXEC@ \"$@\"; }\nb() { @O2STACK_EXEC@ x; }\n";
    const r = renderOcfAgent(t, { dir: "/opt/it's", exec: "'/usr/bin/node' '/opt/o2stack.cjs'" });
    assert.equal(r, `#!/bin/sh\n${HELPER_MARKER} agent\nO2STACK_DIR='/opt/it'\\''s'\na() { '/usr/bin/node' '/opt/o2stack.cjs' "$@"; }\nb() { '/usr/bin/node' '/opt/o2stack.cjs' x; }\n`);
    assert.throws(() => renderOcfAgent('#!/bin/sh\n# @MARKER@\n@O2STACK_EXEC@\n', { dir: '/', exec: 'x' }), /@O2STACK_DIR@ appears 0 times/);
    assert.throws(() => renderOcfAgent('# @MARKER@ @MARKER@ @O2STACK_DIR@ @O2STACK_EXEC@', { dir: '/', exec: 'x' }), /@MARKER@ appears 2 times/);
  });
});

describe('OCF agents: install and remove plans', function () {
  it('nothing there: the directory, then both agents', function () {
    const p = planOcfInstall(DIR, false, facts(null));
    assert.deepEqual(p.actions, [{ op: 'mkdir', path: DIR }, { op: 'write-agent', name: 'o2stack-daemon', path: `${DIR}/o2stack-daemon` }, { op: 'write-agent', name: 'o2stack-o2cb', path: `${DIR}/o2stack-o2cb` }]);
    assert.equal(p.noop, false);
  });

  it('ours and the same: nothing; ours from another install: rewritten', function () {
    assert.equal(planOcfInstall(DIR, true, facts({ ...ours, sameAsNew: true })).noop, true);
    const p = planOcfInstall(DIR, true, facts({ ...ours, sameAsNew: true }, ours));
    assert.deepEqual(p.actions, [{ op: 'write-agent', name: 'o2stack-o2cb', path: `${DIR}/o2stack-o2cb` }]);
    assert.match(p.explain[1]!, /replacing the one of another install/);
  });

  it('a file that is not ours (or a directory): the whole install refused, with the path', function () {
    for (const e of [{ kind: 'file' as const, ours: false, sameAsNew: false }, { kind: 'other' as const, ours: false, sameAsNew: false }]) {
      assert.throws(() => planOcfInstall(DIR, true, facts(null, e)), (x: unknown) => x instanceof HelperRefusal && x.code === 'E_OCF_AGENT_EXISTS' && /o2stack-o2cb is not o2stack's/.test(x.message) && /ls -l .*o2stack-o2cb/.test(x.hint));
    }
  });

  it('remove: ours go; the directory goes only when nothing else is in it', function () {
    assert.deepEqual(planOcfRemove(DIR, true, facts(ours), []).actions, [{ op: 'unlink', path: `${DIR}/o2stack-daemon` }, { op: 'unlink', path: `${DIR}/o2stack-o2cb` }, { op: 'rmdir', path: DIR }]);
    const keep = planOcfRemove(DIR, true, facts(ours, { kind: 'file', ours: false, sameAsNew: false }), ['README']);
    assert.deepEqual(keep.actions, [{ op: 'unlink', path: `${DIR}/o2stack-daemon` }]);
    assert.ok(keep.explain.some((l) => /o2stack-o2cb is not o2stack's: left as it is/.test(l)));
    assert.ok(keep.explain.some((l) => /keeps README/.test(l)));
    const none = planOcfRemove(DIR, false, facts(null), []);
    assert.equal(none.noop, true);
    assert.match(none.explain[0]!, /nothing to do/);
  });
});
