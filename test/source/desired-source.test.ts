import t from 'tap';
import type { DesiredService } from '../../src/model/desired-services.js';
import { mergeUpdates, type SourceUpdate } from '../../src/source/desired-source.js';

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

t.test('a full update after anything replaces it', async (t) => {
  const full: SourceUpdate = { kind: 'full', services: [c] };
  t.equal(mergeUpdates({ kind: 'delta', changes: { upserts: [a1], removals: [fid('10.96.0.2')] } }, full), full);
  t.equal(mergeUpdates({ kind: 'full', services: [a1] }, full), full);
});

t.test('a delta after a full update edits the full state', async (t) => {
  const merged = mergeUpdates({ kind: 'full', services: [a1, b] }, { kind: 'delta', changes: { upserts: [a2, c], removals: [fid('10.96.0.2')] } });
  t.same(merged, { kind: 'full', services: [a2, c] });
});

t.test('two deltas: the later says last for each frontend', async (t) => {
  const merged = mergeUpdates(
    { kind: 'delta', changes: { upserts: [a1, b], removals: [fid('10.96.0.3'), fid('10.96.0.4')] } },
    { kind: 'delta', changes: { upserts: [a2, c], removals: [fid('10.96.0.2')] } },
  );
  t.same(
    merged,
    { kind: 'delta', changes: { upserts: [a2, c], removals: [fid('10.96.0.4'), fid('10.96.0.2')] } },
    'an upsert undoes an earlier removal and a removal an earlier upsert',
  );
});
