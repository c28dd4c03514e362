// Pin names carry the layout version (the first layout keeps the plain name), and what an
// upgrade leaves to remove is every older version's pin and every set-aside one, nothing else.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MAP_LAYOUT_VERSIONS, pinName, stalePins } from '../../src/datapath/map-layouts.js';

t.test('pin names by layout version', async (t) => {
  const versions = { slb_counters: 3 };
  t.equal(pinName('slb_frontends', versions), 'slb_frontends', 'version 1 is the plain name, as socklb always pinned it');
  t.equal(pinName('slb_counters', versions), 'slb_counters_v3');
  t.same(MAP_LAYOUT_VERSIONS, { slb_ct: 2, slb_counters: 6, slb_slots: 2 }, 'the layouts changed since versioned names began (bump a map here when its layout changes)');
});

t.test('stale pins: older versions and set-aside pins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'socklb-layouts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['slb_counters', 'slb_counters_v2', 'slb_counters_v3', 'slb_frontends', 'slb_slots_replaced', 'slb_ct']) writeFileSync(join(dir, f), '');
  t.same(stalePins(dir, ['slb_counters', 'slb_frontends'], { slb_counters: 3 }), ['slb_counters', 'slb_counters_v2', 'slb_slots_replaced']);
  t.same(stalePins(dir, ['slb_frontends'], {}), ['slb_slots_replaced'], 'at version 1 only set-aside pins are stale');
  t.same(stalePins(join(dir, 'none')), []);
});
