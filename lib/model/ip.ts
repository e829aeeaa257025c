// IPv4 dotted quads exactly as Node's net.isIPv4 accepts them (0–255, no leading zeros), without
// loading node:net (and the streams it pulls in) for every configuration check: that load is a
// visible part of a CLI run's start-up on a slow machine. test/model/ip.test.ts compares the two.
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}
