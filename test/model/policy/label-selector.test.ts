import fc from 'fast-check';
import t from 'tap';
import { EVERYTHING, selectorMatches } from '../../../src/model/policy/label-selector.js';
import type { LabelRequirement, LabelSelector } from '../../../src/model/policy-objects.js';

const sel = (matchLabels: Record<string, string>, ...matchExpressions: LabelRequirement[]): LabelSelector => ({ matchLabels, matchExpressions });
const req = (key: string, operator: LabelRequirement['operator'], ...values: string[]): LabelRequirement => ({ key, operator, values });

t.test('metav1: an empty selector {} selects every object, with or without labels', async (t) => {
  t.ok(selectorMatches(EVERYTHING, {}));
  t.ok(selectorMatches(EVERYTHING, { app: 'web' }));
});

t.test('metav1: matchLabels requires each key with exactly that value', async (t) => {
  const s = sel({ app: 'web', tier: 'fe' });
  t.ok(selectorMatches(s, { app: 'web', tier: 'fe', extra: 'x' }), 'extra labels do not matter');
  t.notOk(selectorMatches(s, { app: 'web' }), 'a missing key fails');
  t.notOk(selectorMatches(s, { app: 'web', tier: 'be' }), 'a different value fails');
  t.notOk(selectorMatches(sel({ app: '' }), {}), 'an empty value still needs the key');
  t.ok(selectorMatches(sel({ app: '' }), { app: '' }));
});

t.test('metav1: In requires the key and one of the values', async (t) => {
  t.ok(selectorMatches(sel({}, req('app', 'In', 'web', 'db')), { app: 'db' }));
  t.notOk(selectorMatches(sel({}, req('app', 'In', 'web', 'db')), { app: 'x' }));
  t.notOk(selectorMatches(sel({}, req('app', 'In', 'web')), {}), 'without the key: no');
  t.notOk(selectorMatches(sel({}, req('app', 'In')), { app: 'web' }), 'no values (rejected by validation): nothing');
});

t.test('metav1: NotIn selects objects without the key, and those whose value is not listed', async (t) => {
  t.ok(selectorMatches(sel({}, req('app', 'NotIn', 'web')), {}));
  t.ok(selectorMatches(sel({}, req('app', 'NotIn', 'web')), { app: 'db' }));
  t.notOk(selectorMatches(sel({}, req('app', 'NotIn', 'web', 'db')), { app: 'db' }));
});

t.test('metav1: Exists and DoesNotExist look at the key only', async (t) => {
  t.ok(selectorMatches(sel({}, req('app', 'Exists')), { app: '' }));
  t.notOk(selectorMatches(sel({}, req('app', 'Exists')), { other: 'x' }));
  t.ok(selectorMatches(sel({}, req('app', 'DoesNotExist')), { other: 'x' }));
  t.notOk(selectorMatches(sel({}, req('app', 'DoesNotExist')), { app: 'web' }));
});

t.test('metav1: matchLabels and every expression are ANDed', async (t) => {
  const s = sel({ app: 'web' }, req('tier', 'In', 'fe'), req('debug', 'DoesNotExist'));
  t.ok(selectorMatches(s, { app: 'web', tier: 'fe' }));
  t.notOk(selectorMatches(s, { app: 'web', tier: 'fe', debug: '1' }));
  t.notOk(selectorMatches(s, { app: 'db', tier: 'fe' }));
  t.notOk(selectorMatches(sel({}, req('app', 'Exists'), req('app', 'DoesNotExist')), { app: 'x' }), 'contradictory requirements select nothing');
  t.notOk(selectorMatches(sel({ toString: 'x' }), {}), 'inherited object properties are not labels');
});

t.test('matches a plain set-based reference on random labels and selectors', async () => {
  const keys = ['a', 'b', 'c'];
  const vals = ['1', '2', '3'];
  const labels = fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...vals));
  const requirement = fc.record({
    key: fc.constantFrom(...keys),
    operator: fc.constantFrom('In' as const, 'NotIn' as const, 'Exists' as const, 'DoesNotExist' as const),
    values: fc.subarray(vals),
  });
  const selector = fc.record({
    matchLabels: fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...vals), { maxKeys: 2 }),
    matchExpressions: fc.array(requirement, { maxLength: 3 }),
  });
  fc.assert(
    fc.property(selector, labels, (s, l) => {
      // Each requirement as the set of objects it selects, written out differently from the code.
      const value = (k: string): string | undefined => (k in l ? l[k] : undefined);
      const want =
        Object.keys(s.matchLabels).every((k) => value(k) === s.matchLabels[k]) &&
        s.matchExpressions.every((r) => {
          const v = value(r.key);
          return { In: v !== undefined && r.values.includes(v), NotIn: v === undefined || !r.values.includes(v), Exists: v !== undefined, DoesNotExist: v === undefined }[
            r.operator
          ];
        });
      return selectorMatches(s, l) === want;
    }),
    { numRuns: 5000 },
  );
});
