import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { canonicalIp, formatHostPort, ipFamily, ipFromBytes, ipToBytes, isV4Mapped } from '../../src/net/ip-address.js';

t.test('IPv4 is stored v4-mapped and printed as a dotted quad', async (t) => {
  const b = ipToBytes('10.96.0.10');
  t.same([...b], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 96, 0, 10]);
  t.ok(isV4Mapped(b));
  t.equal(ipFromBytes(b), '10.96.0.10');
  t.equal(canonicalIp('::ffff:10.96.0.10'), '10.96.0.10', 'v4-mapped text folds to the IPv4 form');
});

t.test('IPv6 is compressed as RFC 5952 says', async (t) => {
  t.equal(canonicalIp('fd00:0096:0000:0000:0000:0000:0000:0010'), 'fd00:96::10');
  t.equal(canonicalIp('::'), '::');
  t.equal(canonicalIp('::1'), '::1');
  t.equal(canonicalIp('1:0:0:1:0:0:0:1'), '1:0:0:1::1', 'the longest run is compressed');
  t.equal(canonicalIp('1:0:0:1:0:0:1:1'), '1::1:0:0:1:1', 'the first run wins a tie');
  t.equal(canonicalIp('1:0:1:1:1:1:1:1'), '1:0:1:1:1:1:1:1', 'a single zero group is not compressed');
  t.equal(canonicalIp('FD00::A'), 'fd00::a');
  t.equal(canonicalIp('fe80::1%eth0'), 'fe80::1', 'a zone is dropped');
  t.equal(canonicalIp('64:ff9b::1.2.3.4'), '64:ff9b::102:304', 'an embedded dotted quad in non-mapped space');
});

t.test('families and errors', async (t) => {
  t.equal(ipFamily('1.2.3.4'), 4);
  t.equal(ipFamily('::1'), 6);
  t.equal(ipFamily('1.2.3'), undefined);
  t.equal(ipFamily('None'), undefined);
  t.throws(() => ipToBytes('300.1.1.1'), /not an IPv4 or IPv6 address/);
  t.throws(() => ipFromBytes(new Uint8Array(4)), /needs 16 bytes/);
  t.equal(formatHostPort('fd00::1', 80), '[fd00::1]:80');
  t.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
});

t.test('bytes -> text -> bytes is the identity, and text matches the WHATWG URL serializer', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = ipFromBytes(bytes);
      assert.deepEqual([...ipToBytes(text)], [...bytes]);
      if (!isV4Mapped(bytes)) assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.ipV6(), (text) => {
      if (!isV4Mapped(ipToBytes(text))) assert.equal(`[${canonicalIp(text)}]`, new URL(`http://[${text}]/`).hostname);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      assert.equal(canonicalIp(text), text.split('.').map(Number).join('.'));
    }),
    { numRuns: 200 },
  );
  t.pass('1,200 generated addresses round-tripped');
});
