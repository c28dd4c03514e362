// BackendTable: backends and reference counts by id, pages dropped with their last backend.
import t from 'tap';
import { BackendTable } from '../../src/datapath/backend-table.js';

const b = (n: number): { address: string; port: number } => ({ address: `10.0.0.${n}`, port: 80 });

t.test('add, count references, delete; ids far apart and next to each other', async (t) => {
  const table = new BackendTable();
  for (const id of [1, 2, 31, 32, 1000, 0xffffffff]) table.add(id, b(id & 255));
  t.equal(table.size, 6);
  t.same(table.get(32), b(32));
  t.same(table.get(0xffffffff), b(255));
  t.equal(table.get(3), undefined, 'a free id in a used page');
  t.equal(table.get(64), undefined, 'an id in no page');
  t.equal(table.refs(1), 0);
  t.equal(table.ref(1, +1), 1);
  t.equal(table.ref(1, +1), 2);
  t.equal(table.ref(1, -1), 1);
  t.equal(table.refs(1), 1);
  t.equal(table.ref(3, +1), undefined, 'not held: not counted');
  t.equal(table.ref(64, +1), undefined);
  t.equal(table.refs(64), 0);
  table.add(1, b(9));
  t.same([table.get(1), table.refs(1), table.size], [b(9), 0, 6], 'added again: replaced, references reset');
  t.ok(table.delete(2));
  t.notOk(table.delete(2), 'already gone');
  t.notOk(table.delete(64));
  t.same(table.get(1), b(9), 'its page neighbour stays');
  t.ok(table.delete(1));
  t.ok(table.delete(31));
  t.equal(table.get(31), undefined);
  t.equal(table.size, 3);
  table.add(5, b(5));
  t.same([table.get(5), table.refs(5)], [b(5), 0], 'a page made again after its last backend went');
});
