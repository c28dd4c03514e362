// A source's update is a table per kind; merging held updates (a sync that threw) works kind
// by kind, so a kind added later merges without touching the existing ones.
import t from 'tap';
import { SERVICES, type DesiredService } from '../../src/model/desired-services.js';
import { deltaTable, fullTable, mergeUpdates, tableOf, type SourceUpdate, type TableKind } from '../../src/model/desired-tables.js';

const svc = (address: string, backend: string): DesiredService => ({
  frontend: { address, port: 80, protocol: 'TCP' },
  backends: [{ address: backend, port: 8080 }],
  owner: `ns/${address}`,
});
const fid = (address: string): string => `${address}|80|TCP`;
const a1 = svc('10.96.0.1', '10.0.0.1');
const a2 = svc('10.96.0.1', '10.0.0.2');
const b = svc('10.96.0.2', '10.0.0.1');
const c = svc('10.96.0.3', '10.0.0.1');
const full = (services: DesiredService[]): SourceUpdate => ({ tables: [fullTable(SERVICES, services)] });
const delta = (upserts: DesiredService[], removals: string[]): SourceUpdate => ({ tables: [deltaTable(SERVICES, { upserts, removals })] });

t.test('a full update after anything replaces it', async (t) => {
  const whole = full([c]);
  t.equal(tableOf(mergeUpdates(delta([a1], [fid('10.96.0.2')]), whole), SERVICES), whole.tables[0]);
  t.equal(tableOf(mergeUpdates(full([a1]), whole), SERVICES), whole.tables[0]);
});

t.test('a delta after a full update edits the full state', async (t) => {
  const merged = mergeUpdates(full([a1, b]), delta([a2, c], [fid('10.96.0.2')]));
  t.same(merged, full([a2, c]));
});

t.test('two deltas: the later says last for each frontend', async (t) => {
  const merged = mergeUpdates(delta([a1, b], [fid('10.96.0.3'), fid('10.96.0.4')]), delta([a2, c], [fid('10.96.0.2')]));
  t.same(merged, delta([a2, c], [fid('10.96.0.4'), fid('10.96.0.2')]), 'an upsert undoes an earlier removal and a removal an earlier upsert');
});

// A kind this codebase does not have: defined here, it needs nothing from the services kind.
interface Widget {
  name: string;
  size: number;
}
const WIDGETS: TableKind<Widget> = { name: 'widgets', rowId: (w) => w.name };

t.test('kinds are merged each on its own, with its own row ids', async (t) => {
  const held: SourceUpdate = { tables: [deltaTable(SERVICES, { upserts: [a1], removals: [] }), deltaTable(WIDGETS, { upserts: [{ name: 'w', size: 1 }], removals: ['old'] })] };
  const taken: SourceUpdate = {
    tables: [
      deltaTable(WIDGETS, {
        upserts: [
          { name: 'w', size: 2 },
          { name: 'old', size: 3 },
        ],
        removals: [],
      }),
    ],
  };
  const merged = mergeUpdates(held, taken);
  t.same(tableOf(merged, SERVICES), deltaTable(SERVICES, { upserts: [a1], removals: [] }), 'a kind without news in the later update is kept as held');
  t.same(
    tableOf(merged, WIDGETS),
    deltaTable(WIDGETS, {
      upserts: [
        { name: 'w', size: 2 },
        { name: 'old', size: 3 },
      ],
      removals: [],
    }),
    'rows are named by their own kind: the later widget wins, and its upsert undoes the removal',
  );
  const added = mergeUpdates(full([a1]), { tables: [fullTable(WIDGETS, [])] });
  t.same(
    added.tables.map((u) => `${u.table.name}:${u.kind}`),
    ['services:full', 'widgets:full'],
    'a kind only the later update has is added',
  );
});
