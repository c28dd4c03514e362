// A pinned map's layout may only change with its layout version (map-layouts.ts): an agent
// reuses a pin whose type and sizes fit, so a field moved or retyped at the same sizes without a
// version bump would be read with the wrong meaning after an upgrade. This test keeps a record
// of each map's layout (test/bpf/map-layouts.recorded.json: version and a hash of what BTF says
// of its type, flags, key and value) and fails when the compiled layout differs from the one
// recorded for the same version.
//   After a deliberate layout change: bump MAP_LAYOUT_VERSIONS[map], then record anew:
//     RECORD_MAP_LAYOUTS=1 npx tap test/bpf/map-layout-versions.test.ts
//   Re-recording without a bump is for changes BTF sees that change no meaning (a field renamed):
//   say so in the commit.
// A change of meaning BTF cannot see (same types, new semantics, as slb_ct's version 2) still
// needs its bump by hand; map-layouts.ts says so.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAP_LAYOUT_VERSIONS } from '../../src/datapath/map-layouts.js';
import { SOCK_OBJECT_PATH } from '../../src/datapath/sock-datapath.js';
import { SOCK_POLICY_OBJECT_PATH } from '../../src/datapath/socket-hooks.js';
import { TC_OBJECT_PATH, TC_POLICY_OBJECT_PATH } from '../../src/datapath/tc-datapath.js';
import { SOCK_DESTROY_OBJECT_PATH } from '../../src/datapath/udp-sock-destroy.js';
import { ObjectBtf } from '../helpers/object-btf.js';
import { NODE_TC_OBJECT_PATH } from '../../src/datapath/node-tc.js';

const RECORD = join(import.meta.dirname, 'map-layouts.recorded.json');

interface Recorded {
  version: number;
  layout: string;
}

const objects = [SOCK_OBJECT_PATH, TC_OBJECT_PATH, TC_POLICY_OBJECT_PATH, SOCK_DESTROY_OBJECT_PATH, SOCK_POLICY_OBJECT_PATH, NODE_TC_OBJECT_PATH].map((p) => new ObjectBtf(p));
const fingerprint = (layout: string): string => createHash('sha256').update(layout).digest('hex').slice(0, 16);

/** Every map of every object: its layout, as each object that defines it compiled it. */
const compiled = new Map<string, { path: string; layout: string }[]>();
for (const obj of objects) for (const name of obj.mapNames()) compiled.set(name, [...(compiled.get(name) ?? []), { path: obj.path, layout: obj.mapLayout(name) }]);

const current: Record<string, Recorded> = Object.fromEntries(
  [...compiled].sort(([a], [b]) => a.localeCompare(b)).map(([name, layouts]) => [name, { version: MAP_LAYOUT_VERSIONS[name] ?? 1, layout: fingerprint(layouts[0]!.layout) }]),
);

if (process.env.RECORD_MAP_LAYOUTS === '1') {
  writeFileSync(RECORD, JSON.stringify(current, null, 2) + '\n');
  t.comment(`recorded ${Object.keys(current).length} map layouts in ${RECORD}`);
}

const recorded = JSON.parse(readFileSync(RECORD, 'utf8')) as Record<string, Recorded>;

t.test('a map shared by several objects has one layout in all of them', async (t) => {
  for (const [name, layouts] of compiled) {
    for (const l of layouts.slice(1)) t.equal(l.layout, layouts[0]!.layout, `${name}: ${l.path} and ${layouts[0]!.path}`);
  }
});

t.test('every map layout is the one recorded for its version', async (t) => {
  for (const [name, now] of Object.entries(current)) {
    const was = recorded[name];
    if (!was) {
      t.fail(`map ${name} has no recorded layout: record it (RECORD_MAP_LAYOUTS=1 npx tap test/bpf/map-layout-versions.test.ts)`);
      continue;
    }
    if (now.version === was.version) {
      if (now.layout === was.layout) t.pass(`map ${name}: the layout recorded for version ${now.version}`);
      else
        t.fail(
          `map ${name} at layout version ${now.version}: its layout changed without a version bump; bump MAP_LAYOUT_VERSIONS.${name} to ${now.version + 1} in src/datapath/map-layouts.ts and record anew (now: ${compiled.get(name)![0]!.layout})`,
        );
    } else {
      t.ok(now.version > was.version, `map ${name}: version ${now.version} is newer than the recorded ${was.version} (versions only go up)`);
      t.fail(`map ${name} is at version ${now.version}, recorded at ${was.version}: record the new layout (RECORD_MAP_LAYOUTS=1 npx tap test/bpf/map-layout-versions.test.ts)`);
    }
  }
  for (const name of Object.keys(recorded)) if (!current[name]) t.fail(`map ${name} is recorded but no object defines it any more: record anew`);
});

t.test('the layout description sees what a version bump is for', async (t) => {
  // The fingerprint must change with a member's offset or type at equal sizes, or the check
  // above could not fail: slb_ct's key has two u32 addresses that swapping would keep the size of.
  const tc = objects[1]!;
  const key = tc.mapDefinition('slb_ct').members!.find((m) => m.name === 'key')!;
  const desc = tc.describe(key.type_id);
  t.match(desc, /@\d+:/, 'member offsets are part of it');
  t.match(tc.mapLayout('slb_ct'), /^type=\d+ key=\*?struct ct_key/, 'the map type and key struct are part of it');
  t.notMatch(tc.mapLayout('slb_ct'), /max_entries/, 'capacity is not: a pin of another capacity is rebuilt without a version');
});
