import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatProblem } from '../../src/model/problems.js';
import { parseServicesText, readServicesFile, ServicesFileError } from '../../src/source/services-file.js';
import { endpointSlice, service, toYaml } from '../helpers/k8s-fixtures.js';

const svc = service('ns', 'web', ['10.96.0.10'], [{ port: 80 }]);
const slice = endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ port: 80 }], ['10.244.0.1']);

t.test('multi-document YAML, with empty documents and other kinds (each named once)', async (t) => {
  const deployment = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n';
  const text = `${toYaml([svc, slice])}---\n---\n${deployment}---\n${deployment.replace('name: x', 'name: y')}`;
  const c = parseServicesText(text, 'f.yaml');
  t.equal(c.services.length, 1);
  t.equal(c.slices.length, 1);
  t.same(c.ignoredKinds, ['Deployment']);
  t.same(c.problems, []);
});

t.test('JSON, and List objects as kubectl prints them; Pods and Nodes are read too', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, status: { podIP: '10.244.0.5' } };
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } };
  const list = { apiVersion: 'v1', kind: 'List', items: [svc, slice, pod, node] };
  const c = parseServicesText(JSON.stringify(list), 'f.json');
  t.same([c.services.length, c.slices.length, c.pods.length, c.nodes.length], [1, 1, 1, 1]);
  const typed = { apiVersion: 'v1', kind: 'ServiceList', items: [{ ...svc, kind: undefined, apiVersion: undefined }] };
  t.equal(parseServicesText(JSON.stringify(typed), 'f.json').services.length, 1, 'items of a ServiceList need no kind or apiVersion');
  t.equal(parseServicesText('apiVersion: v1\nkind: List\nitems: []\n', 'f').services.length, 0, 'an explicit empty List is an empty cluster');
  t.equal(parseServicesText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }), 'f.json').services.length, 0, 'JSON needs no final newline');
});

t.test('unreadable files are errors for the whole file, naming it and the document', async (t) => {
  t.throws(() => parseServicesText('a: 1\nb: [1, 2\n', 'bad.yaml'), { name: 'ServicesFileError', message: /^bad.yaml: line 3, column 1: .*; fix the file and save it again$/ });
  t.throws(() => parseServicesText('{"kind": "Service", \n', 'bad.json'), { name: 'ServicesFileError', message: /^bad.json: line 2, column 1: unexpected end of the stream/ });
  t.throws(() => parseServicesText(`${toYaml([svc])}---\n- 1\n- 2\n`, 'f'), { message: 'f: document 2: expected a Kubernetes object, found a list' });
  t.throws(() => parseServicesText('kind: List\nitems: 3\n', 'f'), { message: 'f: document 1: List has no items list' });
  t.throws(() => parseServicesText('42\n', 'f'), { message: 'f: document 1: expected a Kubernetes object, found number' });
  const dir = mkdtempSync(join(tmpdir(), 'socklb-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => readServicesFile(join(dir, 'nope.yaml')), ServicesFileError);
  writeFileSync(join(dir, 'ok.yaml'), toYaml([svc]));
  t.equal(readServicesFile(join(dir, 'ok.yaml')).services.length, 1);
});

t.test('empty and cut-off files are never applied', async (t) => {
  for (const empty of ['', '\n\n', '  \n', '# only a comment\n', '---\n---\n']) {
    t.throws(() => parseServicesText(empty, 'f'), { name: 'ServicesFileError', message: /write an empty List \(apiVersion: v1, kind: List, items: \[\]\)/ }, JSON.stringify(empty));
  }
  const whole = toYaml([{ apiVersion: 'v1', items: [svc, slice], kind: 'List', metadata: { resourceVersion: '' } }]);
  // kubectl -o yaml prints a List's kind and metadata after its items.
  t.match(whole, /^apiVersion: v1\nitems:\n/);
  t.equal(parseServicesText(whole, 'f').services.length, 1);
  // Every cut of the file at a line end is refused: most have items but no kind, the rest
  // end before the first object; cuts inside a line end without a newline.
  const lines = whole.split('\n');
  let refused = 0;
  for (let n = 1; n < lines.length - 3; n++) {
    const cut = `${lines.slice(0, n).join('\n')}\n`;
    t.throws(() => parseServicesText(cut, 'f'), ServicesFileError, `cut after line ${n}`);
    refused++;
  }
  t.ok(refused > 10);
  t.throws(() => parseServicesText(whole.slice(0, whole.length - 5), 'f'), { message: /ends inside a line, so it looks cut off/ });
  const twoDocs = toYaml([svc, slice]);
  t.throws(() => parseServicesText(`${twoDocs}---\napiVersion: v1\n`, 'f'), { message: 'f: document 3: has no kind; every object needs kind and apiVersion' });
});

t.test('apiVersion is checked for every kind; a name defined twice is reported, the later one used', async (t) => {
  const v2 = { ...svc, apiVersion: 'v2', metadata: { name: 'v2', namespace: 'ns' } };
  const beta = { ...slice, apiVersion: 'discovery.k8s.io/v1beta1', metadata: { name: 'b', namespace: 'ns' } };
  const none = { ...svc, apiVersion: undefined, metadata: { name: 'none', namespace: 'ns' } };
  const again = service('ns', 'web', ['10.96.0.11'], [{ port: 81 }]);
  const c = parseServicesText(toYaml([svc, v2, beta, none, again, slice]), 'f');
  t.same(
    c.services.map((s) => (s.spec as { clusterIP: string }).clusterIP),
    ['10.96.0.10', '10.96.0.11'],
  );
  t.same(c.problems.map(formatProblem), [
    'Service ns/v2: apiVersion: is "v2"; socklb reads Service v1, so this object is skipped',
    'EndpointSlice ns/b: apiVersion: is "discovery.k8s.io/v1beta1"; socklb reads EndpointSlice discovery.k8s.io/v1, so this object is skipped',
    'Service ns/none: apiVersion: is missing; socklb reads Service v1, so this object is skipped',
    'Service ns/web: metadata.name: is defined twice (f: document 1 and f: document 5); the later definition is used',
  ]);
});
