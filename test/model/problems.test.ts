import t from 'tap';
import jsYaml from 'js-yaml';
import { describeValue, formatProblem, QUOTE_LIMIT } from '../../src/model/problems.js';
import { desiredServices } from '../../src/model/service-index.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

t.test('describeValue is JSON text, cut at the quote limit', async (t) => {
  for (const v of [null, 1, 'x', true, [1, 'a', null], { a: 1, b: [2, { c: 'd' }] }, {}, []]) t.equal(describeValue(v), JSON.stringify(v));
  t.equal(describeValue(undefined), 'missing');
  t.equal(describeValue({ a: undefined, b: 1 }), '{"b":1}', 'undefined members are left out, as JSON.stringify does');
  t.equal(describeValue([undefined]), '[null]');
  const long = describeValue('x'.repeat(1000));
  t.equal(long.length, QUOTE_LIMIT + 1);
  t.ok(long.endsWith('…'));
});

t.test('a YAML alias bomb yields a short problem line, quickly', async (t) => {
  // 9 levels of 9 aliases: 679 bytes of YAML, hundreds of MB as JSON text.
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const bomb = jsYaml.load(levels.join('\n')) as Record<string, unknown>;
  const svc = service('ns', 'bomb', ['10.96.0.10'], [{ port: 80 }]);
  (svc.spec as Record<string, unknown>).clusterIPs = bomb.i;
  const started = Date.now();
  const r = desiredServices([svc], []);
  t.ok(Date.now() - started < 1000, 'no expansion of the bomb');
  const lines = r.problems.map(formatProblem);
  t.ok(lines.length > 0);
  for (const line of lines) t.ok(line.length < 600, `a short line: ${line.length} chars`);
});

t.test('a condition of the wrong type is reported', async (t) => {
  const slice = endpointSlice('ns', 's', 'web', 'IPv4', [{ port: 80 }], ['10.244.0.1', '10.244.0.2']);
  (slice.endpoints as Record<string, unknown>[])[0]!.conditions = { ready: 'true', terminating: 1 };
  const r = desiredServices([service('ns', 'web', ['10.96.0.10'], [{ port: 80 }])], [slice]);
  t.same(r.problems.map(formatProblem), [
    'EndpointSlice ns/s: endpoints[0].conditions.ready: is "true"; a condition is true, false or unset (a string counts as not ready)',
    'EndpointSlice ns/s: endpoints[0].conditions.terminating: is 1; a condition is true, false or unset (a number counts as false)',
  ]);
  t.same(
    r.services[0]!.backends.map((b) => b.address),
    ['10.244.0.2'],
  );
});
