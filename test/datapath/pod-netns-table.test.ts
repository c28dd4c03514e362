// Which pod a network namespace is, as written for the socket hooks' egress check: a namespace
// holding one pod's addresses is that pod's, only egress-isolated pods get an entry, and the
// map follows the scans (new namespaces written, gone ones removed, the count beside them).
import t from 'tap';
import { NO_ADDRESS, podNetnsEntryLayout, podNetnsKeyLayout, policySockKeyLayout, policySockStateLayout } from '../../src/datapath/pod-netns-map.js';
import { podNetnsEntries, syncPodNetns } from '../../src/datapath/pod-netns-table.js';
import type { EndpointEntry } from '../../src/model/policy/policy-compiler.js';
import { ENDPOINT_EGRESS_ISOLATED, ENDPOINT_INGRESS_ISOLATED } from '../../src/model/policy/policy-keys.js';
import { MemoryMap } from '../helpers/memory-maps.js';

const endpoints = new Map<string, EndpointEntry>([
  ['10.0.0.1', { pod: 'ns/a', identity: 10, flags: ENDPOINT_EGRESS_ISOLATED }],
  ['fd00::1', { pod: 'ns/a', identity: 10, flags: ENDPOINT_EGRESS_ISOLATED }],
  ['10.0.0.2', { pod: 'ns/b', identity: 11, flags: ENDPOINT_INGRESS_ISOLATED }],
  ['10.0.0.3', { pod: 'ns/c', identity: 12, flags: ENDPOINT_EGRESS_ISOLATED }],
  ['10.0.0.4', { pod: 'ns/d', identity: 12, flags: ENDPOINT_EGRESS_ISOLATED }],
]);

t.test('namespaces are matched to pods by their addresses', async (t) => {
  const entries = podNetnsEntries(
    [
      { cookie: 1n, addresses: ['10.0.0.1', 'fd00:0::1', '192.168.1.1'] }, // a, dual stack, one foreign address
      { cookie: 2n, addresses: ['10.0.0.2'] }, // b: isolated for ingress only
      { cookie: 3n, addresses: ['10.0.0.3'] }, // c, IPv4 only
      { cookie: 4n, addresses: ['10.0.0.3', '10.0.0.4'] }, // two pods' addresses: whose sockets?
      { cookie: 5n, addresses: ['192.168.1.1'] }, // the node's own namespace
    ],
    endpoints,
  );
  t.same(
    [...entries],
    [
      [1n, { v4: '10.0.0.1', v6: 'fd00::1' }],
      [3n, { v4: '10.0.0.3', v6: NO_ADDRESS }],
    ],
  );
});

t.test('the map follows the scans, the count written last', async (t) => {
  const maps = { netns: new MemoryMap(podNetnsKeyLayout, podNetnsEntryLayout), state: new MemoryMap(policySockKeyLayout, policySockStateLayout) };
  const order: string[] = [];
  maps.netns.afterOp = () => order.push('netns');
  maps.state.afterOp = () => order.push('count');
  const a = { v4: '10.0.0.1', v6: 'fd00::1' };
  const c = { v4: '10.0.0.3', v6: NO_ADDRESS };
  const both = new Map([
    [1n, a],
    [3n, c],
  ]);
  t.same(syncPodNetns(maps, both), { identified: 2, written: 2, removed: 0 });
  t.same(order.slice(-1), ['count'], 'the count after the entries');
  t.same(maps.state.get({ index: 0 }), { netns_pods: 2 });
  t.same(syncPodNetns(maps, both), { identified: 2, written: 0, removed: 0 }, 'nothing changed, nothing written');
  t.same(syncPodNetns(maps, new Map([[1n, a]])), { identified: 1, written: 0, removed: 1 }, 'a namespace gone: its entry removed');
  t.same(maps.netns.entries(), [[{ cookie: 1n }, a]]);
  t.same(maps.state.get({ index: 0 }), { netns_pods: 1 });
  t.same(syncPodNetns(maps, new Map()), { identified: 0, written: 0, removed: 1 });
  t.same(maps.state.get({ index: 0 }), { netns_pods: 0 }, 'no pod: the hooks skip the lookup');
});
