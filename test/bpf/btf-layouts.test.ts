// Every TypeScript codec against the compiled objects' BTF: struct names, sizes, field names,
// offsets and field sizes, which struct each map's key and value really are, and the enums
// mirrored in TypeScript (reason codes, conntrack flags): every member's name and value. A map both
// objects define (the load-balancing maps the socket and tc programs share) is checked in each,
// so the two programs' views of a shared map cannot drift apart either.
import t, { type Test } from 'tap';
import { CT_CAPACITY, CT_MAP } from '../../src/datapath/ct-map.js';
import { POD_LINKS_CAPACITY, POD_LINKS_MAP } from '../../src/datapath/pod-links-map.js';
import { COUNTER_NAMES, COUNTERS_MAP } from '../../src/datapath/counters-map.js';
import { MAP_CAPACITY, MAP_NAME_OF } from '../../src/datapath/datapath-maps.js';
import { ENUM_MIRRORS, MAP_CODECS, NESTED_STRUCT_LAYOUTS } from '../../src/datapath/map-codecs.js';
import { REVNAT_SK_SLOTS, REVNAT_SK_MAP, UDP_REVNAT_CAPACITY, UDP_REVNAT_MAP } from '../../src/datapath/revnat-maps.js';
import { SOCK_OBJECT_PATH } from '../../src/datapath/sock-datapath.js';
import { SOCK_POLICY_OBJECT_PATH } from '../../src/datapath/socket-hooks.js';
import { POD_NETNS_CAPACITY, POD_NETNS_MAP, POLICY_SOCK_STATE_MAP } from '../../src/datapath/pod-netns-map.js';
import { TC_OBJECT_PATH, TC_POLICY_OBJECT_PATH } from '../../src/datapath/tc-datapath.js';
import { UDP_DEPARTED_CAPACITY, UDP_DEPARTED_MAP } from '../../src/datapath/udp-departed-map.js';
import { SOCK_DESTROY_OBJECT_PATH } from '../../src/datapath/udp-sock-destroy.js';
import { cEnumMembers, type StructLayout } from '../../src/bpf/struct-layout.js';
import { ObjectBtf } from '../helpers/object-btf.js';
import { NODE_TC_OBJECT_PATH } from '../../src/datapath/node-tc.js';
import { NODE_CT_CAPACITY, NODE_CT_MAP } from '../../src/datapath/node-ct-map.js';
import { NODE_DEVICES_CAPACITY, NODE_DEVICES_MAP } from '../../src/datapath/node-devices-map.js';
import { POLICY_CAPACITY, POLICY_CIDR_MAP, POLICY_CT_MAP, POLICY_ENDPOINTS_MAP, POLICY_IPCACHE_MAP, POLICY_RULES_MAP } from '../../src/datapath/policy-maps.js';
import { POLICY_VERDICT_TEST_OBJECT } from '../helpers/test-objects.js';

const objects = [
  new ObjectBtf(SOCK_OBJECT_PATH),
  new ObjectBtf(TC_OBJECT_PATH),
  new ObjectBtf(TC_POLICY_OBJECT_PATH),
  new ObjectBtf(SOCK_DESTROY_OBJECT_PATH),
  new ObjectBtf(SOCK_POLICY_OBJECT_PATH),
  new ObjectBtf(NODE_TC_OBJECT_PATH),
];
/** Objects built for the tests only, holding maps no production object has yet (the policy
 * tables' verdict program): their codecs are checked the same way. */
const testObjects = [new ObjectBtf(POLICY_VERDICT_TEST_OBJECT)];
const holding = (map: string): ObjectBtf[] => {
  const production = objects.filter((o) => o.hasMap(map));
  return production.length > 0 ? production : testObjects.filter((o) => o.hasMap(map));
};

t.test('map capacities the agent reports are the ones compiled in', async (t) => {
  const capacities: [string, number][] = [
    ...Object.entries(MAP_CAPACITY).map(([kind, c]) => [MAP_NAME_OF[kind as keyof typeof MAP_NAME_OF], c] as [string, number]),
    [CT_MAP, CT_CAPACITY],
    [POD_LINKS_MAP, POD_LINKS_CAPACITY],
    [UDP_REVNAT_MAP, UDP_REVNAT_CAPACITY],
    [REVNAT_SK_MAP, REVNAT_SK_SLOTS],
    [UDP_DEPARTED_MAP, UDP_DEPARTED_CAPACITY],
    [POLICY_ENDPOINTS_MAP, POLICY_CAPACITY.endpoints],
    [POLICY_IPCACHE_MAP, POLICY_CAPACITY.ipcache],
    [POLICY_RULES_MAP, POLICY_CAPACITY.rules],
    [POLICY_CIDR_MAP, POLICY_CAPACITY.cidr],
    [POLICY_CT_MAP, POLICY_CAPACITY.ct],
    [POD_NETNS_MAP, POD_NETNS_CAPACITY],
    [POLICY_SOCK_STATE_MAP, 1],
    [NODE_CT_MAP, NODE_CT_CAPACITY],
    [NODE_DEVICES_MAP, NODE_DEVICES_CAPACITY],
    // One slot per enum counter_id below COUNTER_MAX: a name added on one side only shows here.
    [COUNTERS_MAP, COUNTER_NAMES.length],
  ];
  for (const [map, capacity] of capacities) {
    t.ok(holding(map).length > 0, `${map} is in an object`);
    for (const obj of holding(map)) t.equal(obj.capacity(map), capacity, `${map} in ${obj.path}: ${capacity}`);
  }
});

t.test('the socket objects (with and without policy), the tc one and the node one share the load-balancing maps', async (t) => {
  for (const map of Object.values(MAP_NAME_OF)) t.equal(holding(map).length, 4, map);
});

t.test('the socket hooks with policy share the policy maps with the tc policy object; those without have none', async (t) => {
  const paths = (map: string): string[] => holding(map).map((o) => o.path);
  for (const map of [POLICY_ENDPOINTS_MAP, POLICY_IPCACHE_MAP, POLICY_RULES_MAP, POLICY_CIDR_MAP]) {
    t.ok(paths(map).includes(SOCK_POLICY_OBJECT_PATH) && paths(map).includes(TC_POLICY_OBJECT_PATH), `${map} in both`);
    t.notOk(paths(map).includes(SOCK_OBJECT_PATH), `${map} not in ${SOCK_OBJECT_PATH}`);
  }
  for (const map of [POD_NETNS_MAP, POLICY_SOCK_STATE_MAP]) t.same(paths(map), [SOCK_POLICY_OBJECT_PATH], `${map} only in the socket hooks with policy`);
});

for (const codec of MAP_CODECS) {
  t.test(`map ${codec.map}`, async (t) => {
    t.ok(holding(codec.map).length > 0, 'defined in an object');
    for (const obj of holding(codec.map)) {
      const layouts = [
        ['value', codec.value],
        ['key', codec.key],
      ] as const;
      for (const [member, layout] of layouts) {
        if (!layout) {
          t.not(obj.mapMemberStruct(codec.map, member).kind, 'STRUCT', `${member} is a plain integer in C too`);
          continue;
        }
        const inMap = obj.mapMemberStruct(codec.map, member);
        t.equal(inMap.name, layout.cName, `${member} is struct ${layout.cName}`);
        checkStruct(t, obj, layout);
      }
    }
  });
}

function checkStruct(t: Test, obj: ObjectBtf, layout: StructLayout<object>): void {
  const c = obj.structs.get(layout.cName);
  if (!c) {
    t.fail(`struct ${layout.cName} is not in the BTF of ${obj.path}`);
    return;
  }
  t.equal(layout.size, c.size, `sizeof(struct ${layout.cName})`);
  t.same(
    layout.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size })),
    c.members!.map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: obj.sizeOf(m.type_id) })),
    `fields of struct ${layout.cName} in ${obj.path}`,
  );
}

t.test('structs inside other structs', async (t) => {
  for (const layout of NESTED_STRUCT_LAYOUTS) {
    const holders = objects.filter((o) => o.structs.has(layout.cName));
    t.ok(holders.length > 0, `struct ${layout.cName} is in an object`);
    for (const obj of holders) checkStruct(t, obj, layout);
  }
});

t.test('enums: every member of each mirrored enum, by name and value', async (t) => {
  for (const mirror of ENUM_MIRRORS) {
    const holders = objects.filter((o) => o.enums.has(mirror.cName));
    t.ok(holders.length > 0, `enum ${mirror.cName} is in an object`);
    for (const obj of holders) {
      t.same(
        cEnumMembers(mirror),
        obj.enums
          .get(mirror.cName)!
          .values!.map((v) => ({ name: v.name, value: v.val }))
          .sort((a, b) => a.value - b.value),
        `enum ${mirror.cName} in ${obj.path}`,
      );
    }
  }
  // The reason codes index the counters every object shares: each object must have the same enum.
  t.equal(objects.filter((o) => o.enums.has('slb_reason')).length, objects.length, 'enum slb_reason is in every object');
});
