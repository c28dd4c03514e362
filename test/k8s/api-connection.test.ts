// The lists' GET: the body as JSON, and errors a user can act on for everything else.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ApiError, getJson, type ApiConnection } from '../../src/k8s/api-connection.js';

async function serve(t: { teardown(fn: () => Promise<void>): void }, handler: Parameters<typeof createServer>[1]): Promise<ApiConnection> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requestOptions: async () => ({ headers: { Authorization: 'Bearer x' } }) };
}

t.test('200: the parsed body; credentials and Accept are sent', async (t) => {
  let headers: Record<string, unknown> = {};
  const conn = await serve(t, (req, res) => {
    headers = req.headers;
    res.end('{"items":[1]}');
  });
  t.same(await getJson(conn, '/api/v1/services?limit=1'), { value: { items: [1] }, bytes: 13 });
  t.match(headers, { authorization: 'Bearer x', accept: 'application/json' });
});

t.test('another status: an ApiError with the status and the start of the body', async (t) => {
  const conn = await serve(t, (_req, res) => {
    res.statusCode = 403;
    res.end('services is forbidden: User "system:serviceaccount:x:y" cannot list resource "services"');
  });
  const err = await getJson(conn, '/api/v1/services').catch((e: unknown) => e);
  t.ok(err instanceof ApiError);
  t.equal((err as ApiError).statusCode, 403);
  t.match((err as Error).message, /^GET \/api\/v1\/services: HTTP 403: services is forbidden/);
});

t.test('a body that is not JSON, and a server that does not answer', async (t) => {
  const conn = await serve(t, (req, res) => {
    if (req.url === '/slow') return; // never answers
    res.end('<html>');
  });
  await t.rejects(getJson(conn, '/x'), /GET \/x: the body is not JSON/);
  await t.rejects(getJson(conn, '/slow', 100), /GET \/slow: no answer within 100 ms/);
});
