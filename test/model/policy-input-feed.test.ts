// PolicyInputFeed: whole tables first, then only rows that changed; an update that changes no
// row (a pod's status) is no change; problems follow the objects.
import t from 'tap';
import { PolicyInputFeed, sameRow } from '../../src/model/policy-input-feed.js';

const pod = (labels: Record<string, string>, phase = 'Running'): Record<string, unknown> => ({
  metadata: { namespace: 'ns', name: 'p', labels },
  spec: { nodeName: 'n1' },
  status: { phase, podIPs: [{ ip: '10.0.0.1' }] },
});
const summary = (feed: PolicyInputFeed): unknown[] =>
  feed.take().map((u) => (u.kind === 'full' ? [u.table.name, 'full', u.rows.length] : [u.table.name, 'delta', u.changes.upserts.length, u.changes.removals]));

t.test('whole tables first, then deltas of what changed', async (t) => {
  const feed = new PolicyInputFeed();
  feed.upsertPod(pod({ app: 'a' }));
  feed.upsertNamespace({ metadata: { name: 'ns' } });
  t.same(summary(feed), [
    ['pods', 'full', 1],
    ['namespaces', 'full', 1],
    ['networkpolicies', 'full', 0],
  ]);
  t.same(summary(feed), [], 'nothing changed');
  feed.upsertPod(pod({ app: 'a' }, 'Succeeded'));
  t.same(summary(feed), [], 'a status change that changes no row is no change');
  feed.upsertPod(pod({ app: 'b' }));
  t.same(summary(feed), [['pods', 'delta', 1, []]]);
  feed.upsertPod(pod({ app: 'c' }));
  feed.upsertPod(pod({ app: 'b' }));
  t.same(summary(feed), [], 'changed and changed back between two takes: no change');
  feed.upsertPolicy({ metadata: { namespace: 'ns', name: 'x' }, spec: {} });
  feed.deletePolicy('ns', 'x');
  feed.deletePod('ns', 'never');
  t.same(summary(feed), [], 'added and deleted between two takes, or deleted unknown: no change');
  feed.deletePod('ns', 'p');
  feed.deleteNamespace('ns');
  t.same(summary(feed), [
    ['pods', 'delta', 0, ['ns/p']],
    ['namespaces', 'delta', 0, ['ns']],
  ]);
});

t.test('problems follow the objects; objects that are no objects are reported', async (t) => {
  const feed = new PolicyInputFeed();
  feed.upsertPolicy({ metadata: { namespace: 'ns', name: 'x' }, spec: { policyTypes: ['Sideways'] } });
  feed.upsertPod('nope' as never);
  feed.upsertNamespace({ metadata: {} });
  t.same(
    feed.problems().map((p) => [p.object, p.field]),
    [
      ['NetworkPolicy ns/x', 'spec.policyTypes'],
      ['NetworkPolicy ns/x', 'spec.policyTypes'],
      ['Pod ?', '(object)'],
      ['Namespace ?', 'metadata.name'],
    ],
  );
  feed.deletePolicy('ns', 'x');
  t.same(
    feed.problems().map((p) => p.object),
    ['Pod ?', 'Namespace ?'],
  );
});

t.test('sameRow compares plain data', async (t) => {
  t.ok(sameRow({ a: [1, { b: 'x' }], c: undefined }, { c: undefined, a: [1, { b: 'x' }] }));
  t.notOk(sameRow({ a: [1] }, { a: [2] }));
  t.notOk(sameRow({ a: 1 }, { b: 1 }));
  t.notOk(sameRow({ a: 1 }, { a: 1, b: 2 }));
  t.notOk(sameRow([], {}));
  t.notOk(sameRow(null, {}));
  t.notOk(sameRow('a', 'b'));
});
