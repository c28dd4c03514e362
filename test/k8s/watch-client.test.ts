// The config client-node's Watch reads: the server, and per watch an agent with the TLS
// material and the credential headers, from our connection rather than a KubeConfig.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import t from 'tap';
import type { ApiConnection } from '../../src/k8s/api-connection.js';
import { openWatch, watchConfig } from '../../src/k8s/watch-client.js';

t.test('https: an https agent with the CA, client certificate and server name; headers as strings', async (t) => {
  const conn: ApiConnection = {
    server: 'https://api.example:6443',
    requestOptions: async () => ({ ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'kubernetes', rejectUnauthorized: false, headers: { Authorization: 'Bearer t', 'X-N': 1 } }),
  };
  const config = watchConfig(conn);
  t.same(config.getCurrentCluster(), { server: 'https://api.example:6443' });
  const opts = await config.applyToFetchOptions({});
  t.ok(opts.agent instanceof HttpsAgent);
  t.match((opts.agent as HttpsAgent).options, { ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'kubernetes', rejectUnauthorized: false });
  t.same(opts.headers, { Authorization: 'Bearer t', 'X-N': '1' });
});

t.test('http: a plain agent; an agent the connection brings (client-node, a proxy) is kept', async (t) => {
  const plain = await watchConfig({ server: 'http://127.0.0.1:1', requestOptions: async () => ({}) }).applyToFetchOptions({});
  t.ok(plain.agent instanceof HttpAgent && !(plain.agent instanceof HttpsAgent));
  t.same(plain.headers, {});
  const own = new HttpsAgent();
  const kept = await watchConfig({ server: 'https://h', requestOptions: async () => ({ agent: own }) }).applyToFetchOptions({});
  t.equal(kept.agent, own);
});

t.test('a server that is not there: done gets an error that names the watch', async (t) => {
  const err = await new Promise<Error | null>((resolve) =>
    openWatch({ server: 'http://127.0.0.1:1', requestOptions: async () => ({}) }, '/api/v1/services', {}, () => t.fail('no events'), resolve),
  );
  t.match(err?.message, /^watch \/api\/v1\/services: .*ECONNREFUSED/);
});

t.test('credentials that cannot be read: done gets the reason', async (t) => {
  const err = await new Promise<Error | null>((resolve) =>
    openWatch({ server: 'http://127.0.0.1:1', requestOptions: () => Promise.reject(new Error('token file missing')) }, '/x', {}, () => undefined, resolve),
  );
  t.match(err?.message, /token file missing/);
});
