// ByBackend: values by (address, port), the same as a map keyed by "address|port".
import t from 'tap';
import { ByBackend } from '../../src/datapath/by-backend.js';

t.test('address and port together are the key', async (t) => {
  const m = new ByBackend<number>();
  m.set({ address: '10.0.0.1', port: 80 }, 1);
  m.set({ address: '10.0.0.1', port: 81 }, 2);
  m.set({ address: 'fd00::1', port: 80 }, 3);
  m.set({ address: '10.0.0.1', port: 80 }, 4);
  t.equal(m.get({ address: '10.0.0.1', port: 80 }), 4, 'set again replaces');
  t.equal(m.get({ address: '10.0.0.1', port: 81 }), 2);
  t.equal(m.get({ address: '10.0.0.2', port: 80 }), undefined);
  t.equal(m.get({ address: '10.0.0.1', port: 82 }), undefined);
  t.ok(m.has({ address: 'fd00::1', port: 80 }));
  t.notOk(m.has({ address: 'fd00::1', port: 81 }));
  t.same([...m.values()].sort(), [2, 3, 4]);
  t.ok(m.delete({ address: '10.0.0.1', port: 81 }));
  t.notOk(m.delete({ address: '10.0.0.1', port: 81 }), 'already gone');
  t.notOk(m.delete({ address: '10.0.0.9', port: 80 }));
  t.same([...m.values()].sort(), [3, 4]);
});
