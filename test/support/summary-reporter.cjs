// Mocha's spec reporter plus the closing line CI reads: "N passed, N failed, N skipped".
// With O2STACK_RESULTS=FILE the counts are also appended to FILE as one JSON line, so
// .ci/run can add up the host suites and the VM suites.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const skipped = [];
    runner.on(EVENT_TEST_PENDING, (test) => skipped.push(test.fullTitle()));
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      const line = `${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`;
      process.stdout.write(`\n${line}\n`);
      if (process.env.O2STACK_RESULTS) {
        const suite = process.env.O2STACK_SUITE || 'host';
        fs.appendFileSync(process.env.O2STACK_RESULTS,
          JSON.stringify({ suite, passed: s.passes, failed: s.failures, skipped: s.pending }) + '\n');
      }
    });
  }
}
module.exports = SummaryReporter;
