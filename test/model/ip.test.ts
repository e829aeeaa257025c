import assert from 'node:assert/strict';
import { isIPv4 as netIsIPv4 } from 'node:net';
import fc from 'fast-check';
import { isIPv4 } from '../../lib/model/ip.js';

describe('isIPv4', function () {
  it('agrees with net.isIPv4 on addresses, near-addresses and junk', function () {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', ' 1', '1 ', '-1', 'a', '0x1'));
    const quadish = fc.array(octet, { minLength: 1, maxLength: 6 }).map((a) => a.join('.'));
    fc.assert(fc.property(fc.oneof(quadish, fc.string(), fc.ipV4(), fc.ipV6()), (s) => isIPv4(s) === netIsIPv4(s)), { numRuns: 3000 });
  });

  it('takes the usual forms', function () {
    assert.ok(isIPv4('192.0.2.1') && isIPv4('0.0.0.0') && isIPv4('255.255.255.255'));
    assert.ok(!isIPv4('256.0.0.1') && !isIPv4('192.0.2') && !isIPv4('192.0.2.01') && !isIPv4('192.0.2.1\n'));
  });
});
