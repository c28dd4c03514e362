// A connection to the API server: where it is and what each request carries (TLS material,
// credentials), plus the one-shot GET the lists use. Lists are fetched as raw JSON with
// node:https, exactly as the API serves them: the typed client's deserialization is slow at
// 100,000 endpoints and changes nothing we read. Watches go through client-node's Watch
// (watch-client.ts), fed by the same connection.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface ApiConnection {
  /** scheme://host:port of the API server, without a trailing slash. */
  readonly server: string;
  /** TLS options and headers for one request. Built per request, so a rotated token file is read again. */
  requestOptions(): Promise<RequestOptions>;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** GET path from the API server and parse the JSON body; bytes: the body's length. */
export async function getJson<T>(conn: ApiConnection, path: string, timeoutMs = 60_000): Promise<{ value: T; bytes: number }> {
  const opts = await conn.requestOptions();
  const url = new URL(conn.server + path);
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(url, { ...opts, timeout: timeoutMs, method: 'GET', headers: { ...opts.headers, Accept: 'application/json' } }, (res) => {
      readBody(res).then((text) => {
        if (res.statusCode === 200) resolve(text);
        else reject(new ApiError(`GET ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`, res.statusCode ?? 0));
      }, reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
  try {
    return { value: JSON.parse(body) as T, bytes: body.length };
  } catch (err) {
    throw new Error(`GET ${path}: the body is not JSON: ${(err as Error).message}`);
  }
}
