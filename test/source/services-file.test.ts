import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseServicesText, readServicesFile, ServicesFileError } from '../../src/source/services-file.js';
import { endpointSlice, service, toYaml } from '../helpers/k8s-fixtures.js';

const svc = service('ns', 'web', ['10.96.0.10'], [{ port: 80 }]);
const slice = endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ port: 80 }], ['10.244.0.1']);

t.test('multi-document YAML, with empty documents and other kinds', async (t) => {
  const text = `${toYaml([svc, slice])}---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n`;
  const c = parseServicesText(text, 'f.yaml');
  t.equal(c.services.length, 1);
  t.equal(c.slices.length, 1);
  t.same(c.ignoredKinds, ['Deployment']);
});

t.test('JSON, and List objects as kubectl prints them', async (t) => {
  const list = { apiVersion: 'v1', kind: 'List', items: [svc, slice] };
  t.equal(parseServicesText(JSON.stringify(list), 'f.json').slices.length, 1);
  const typed = { apiVersion: 'v1', kind: 'ServiceList', items: [{ ...svc, kind: undefined }] };
  t.equal(parseServicesText(JSON.stringify(typed), 'f.json').services.length, 1, 'items of a ServiceList need no kind');
  t.same(parseServicesText('', 'empty').services, []);
});

t.test('unreadable files are errors for the whole file, naming it and the document', async (t) => {
  t.throws(() => parseServicesText('a: 1\nb: [1, 2\n', 'bad.yaml'), { name: 'ServicesFileError', message: /^bad.yaml: line 3, column 1: .*; fix the file and save it again$/ });
  t.throws(() => parseServicesText('{"kind": "Service", ', 'bad.json'), { name: 'ServicesFileError', message: /^bad.json: line 2, column 1: unexpected end of the stream/ });
  t.throws(() => parseServicesText(`${toYaml([svc])}---\n- 1\n- 2\n`, 'f'), { message: 'f: document 2: expected a Kubernetes object, found a list' });
  t.throws(() => parseServicesText('kind: List\nitems: 3\n', 'f'), { message: 'f: document 1: List has no items list' });
  t.throws(() => parseServicesText('42\n', 'f'), { message: 'f: document 1: expected a Kubernetes object, found number' });
  const dir = mkdtempSync(join(tmpdir(), 'socklb-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => readServicesFile(join(dir, 'nope.yaml')), ServicesFileError);
  writeFileSync(join(dir, 'ok.yaml'), toYaml([svc]));
  t.equal(readServicesFile(join(dir, 'ok.yaml')).services.length, 1);
});
