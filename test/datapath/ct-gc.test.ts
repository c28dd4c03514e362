// Conntrack garbage collection against an in-memory table: dead entries go, live ones stay,
// entries that vanish during the pass do not stop it, and other failures are not swallowed.
import t from 'tap';
import { collectExpiredFlows } from '../../src/datapath/ct-gc.js';
import { CT_DIRECTION, CT_VERDICT, ctEntryLayout, ctKeyLayout, type CtEntry, type CtKey } from '../../src/datapath/ct-map.js';
import { MemoryMap } from '../helpers/memory-maps.js';

const key = (sport: number, direction: number): CtKey => ({ src: '10.244.0.10', dst: '10.96.0.10', sport, dport: 80, protocol: 6, direction });
const entry = (expires: number): CtEntry => ({ expires, state: 0, verdict: CT_VERDICT.dnat, nat: { address: '10.244.0.21', port: 8080, backend_id: 1 } });

function table(): MemoryMap<CtKey, CtEntry> {
  const ct = new MemoryMap(ctKeyLayout, ctEntryLayout);
  for (let i = 0; i < 4; i++) {
    ct.set(key(1000 + i, CT_DIRECTION.forward), entry(i < 2 ? 50 : 500));
    ct.set(key(1000 + i, CT_DIRECTION.reply), entry(i < 2 ? 50 : 500));
  }
  return ct;
}

t.test('dead entries go, live ones stay and are counted', async (t) => {
  const ct = table();
  const r = collectExpiredFlows(ct, 100);
  t.match(r, { live: 4, liveFlows: 2, expired: 4 });
  t.equal(ct.entries().length, 4);
  t.ok(ct.entries().every(([, e]) => e.expires === 500));
});

t.test('an entry deleted during the pass does not stop it', async (t) => {
  const ct = table();
  const entries = ct.entries();
  // As if a packet deleted the first dead entry between the scan and the deletes.
  ct.entries = () => entries;
  ct.delete(key(1000, CT_DIRECTION.forward));
  const r = collectExpiredFlows(ct, 100);
  t.equal(r.expired, 3, 'the other three dead entries went');
  t.equal(ct.data.size, 4);
});

t.test('a failure other than a vanished entry is reported', async (t) => {
  const ct = table();
  ct.deleteMany = () => ({ done: 0, error: Object.assign(new Error('Operation not permitted (EPERM)'), { errno: 1 }) });
  t.throws(() => collectExpiredFlows(ct, 100), /EPERM/);
});
