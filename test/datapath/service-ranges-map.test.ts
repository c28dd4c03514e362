// The service CIDRs as the socket hooks compare them: net and mask in the 16-byte form.
import t from 'tap';
import { serviceRangesOf, SERVICE_RANGES_MAX } from '../../src/datapath/service-ranges-map.js';
import { parseCidr } from '../../src/net/cidr.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('an IPv4 and an IPv6 range', async (t) => {
  const { count, ranges } = serviceRangesOf([parseCidr('10.96.0.0/12'), parseCidr('fd00:96::/108')]);
  t.equal(count, 2);
  t.equal(hex(ranges[0]!.net), '00000000000000000000ffff0a600000', 'v4-mapped net');
  t.equal(hex(ranges[0]!.mask), 'fffffffffffffffffffffffffff00000', '/96+12');
  t.equal(hex(ranges[1]!.net), 'fd000096000000000000000000000000');
  t.equal(hex(ranges[1]!.mask), 'fffffffffffffffffffffffffff00000', '/108');
});

t.test('more ranges than the map holds: the first ones', async (t) => {
  const cidrs = ['10.0.0.0/8', '10.96.0.0/12', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'].map(parseCidr);
  const { count, ranges } = serviceRangesOf(cidrs);
  t.equal(count, SERVICE_RANGES_MAX);
  t.equal(hex(ranges[3]!.mask), 'ffffffffffffffffffffffffffff0000');
});
