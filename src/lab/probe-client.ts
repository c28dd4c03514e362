// A client pod's load: makes requests to a host:port and reports who answered and what the
// socket said its peer was. In mode tcp each request is a new connection (connect, one
// request, one reply, close); in tcp-persistent each worker keeps one connection for all its
// requests; over UDP a datagram and its reply on one socket per worker, either unconnected
// (sendto/recvfrom) or connected.
// Usage: node probe-client.js '{"mode":"tcp","host":"10.96.0.10","port":80,"count":300}'
// Prints one JSON line: ProbeResult.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';

export interface ProbeRequest {
  mode: 'tcp' | 'tcp-persistent' | 'udp' | 'udp-connected';
  /** Pause between a worker's requests. */
  intervalMs?: number;
  host: string;
  port: number;
  /** Requests in all; workers stop at count or at durationMs, whichever comes first. */
  count: number;
  concurrency?: number;
  durationMs?: number;
  timeoutMs?: number;
}

export interface ProbeResult {
  ok: number;
  /** Reply text ("NAME:PORT") to how many requests got it. */
  replies: Record<string, number>;
  /** Error code (ECONNREFUSED, ETIMEDOUT, ...) to count. */
  errors: Record<string, number>;
  /** The peer address the socket reported (getpeername or recvfrom), to count. */
  peers: Record<string, number>;
  elapsedMs: number;
}

function bump(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

const timeoutError = (): Error => Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });

function tcpConnect(req: ProbeRequest, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: req.host, port: req.port });
    const timer = setTimeout(() => sock.destroy(timeoutError()), timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      resolve(sock);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    sock.once('error', onError);
  });
}

/** One request and its one-line reply on a connected socket. */
function tcpExchange(sock: Socket, timeoutMs: number): Promise<{ reply: string; peer: string }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const done = (err: Error | undefined): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', done);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve({ reply: data.trim(), peer: `${sock.remoteAddress}:${sock.remotePort}` });
    };
    const onData = (chunk: Buffer): void => {
      data += chunk.toString();
      if (data.includes('\n')) done(undefined);
    };
    const onClose = (): void => done(Object.assign(new Error('closed by peer'), { code: 'ECONNRESET' }));
    const timer = setTimeout(() => done(timeoutError()), timeoutMs);
    sock.on('data', onData);
    sock.once('error', done);
    sock.once('close', onClose);
    sock.write('x\n');
  });
}

/** One datagram and its reply. An error the socket reports meanwhile fails the request: a
 * connected socket's recv reports an ICMP port unreachable as ECONNREFUSED. */
function udpRequest(sock: UdpSocket, req: ProbeRequest, timeoutMs: number, connected: boolean): Promise<{ reply: string; peer: string }> {
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      sock.off('message', onMessage);
      sock.off('error', fail);
    };
    const fail = (err: Error | null): void => {
      if (!err) return;
      finish();
      reject(err);
    };
    const timer = setTimeout(() => fail(timeoutError()), timeoutMs);
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }): void => {
      finish();
      const peer = connected ? `${sock.remoteAddress().address}:${sock.remoteAddress().port}` : `${rinfo.address}:${rinfo.port}`;
      resolve({ reply: msg.toString().trim(), peer });
    };
    sock.once('message', onMessage);
    sock.once('error', fail);
    if (connected) sock.send('x\n', fail);
    else sock.send('x\n', req.port, req.host, fail);
  });
}

async function udpSocket(req: ProbeRequest): Promise<UdpSocket> {
  const sock = createSocket(req.host.includes(':') ? 'udp6' : 'udp4');
  sock.on('error', () => undefined);
  if (req.mode === 'udp-connected') await new Promise<void>((resolve, reject) => sock.connect(req.port, req.host, (err?: Error) => (err ? reject(err) : resolve())));
  return sock;
}

export async function probe(req: ProbeRequest): Promise<ProbeResult> {
  const result: ProbeResult = { ok: 0, replies: {}, errors: {}, peers: {}, elapsedMs: 0 };
  const start = Date.now();
  const until = start + (req.durationMs ?? 60_000);
  const timeoutMs = req.timeoutMs ?? 2000;
  let issued = 0;
  const worker = async (): Promise<void> => {
    let sock: UdpSocket | undefined;
    let tcp: Socket | undefined;
    while (issued < req.count && Date.now() < until) {
      issued++;
      try {
        let r: { reply: string; peer: string };
        if (req.mode === 'tcp') {
          const s = await tcpConnect(req, timeoutMs);
          try {
            r = await tcpExchange(s, timeoutMs);
          } finally {
            s.destroy();
          }
        } else if (req.mode === 'tcp-persistent') {
          tcp ??= await tcpConnect(req, timeoutMs);
          r = await tcpExchange(tcp, timeoutMs);
        } else {
          sock ??= await udpSocket(req);
          r = await udpRequest(sock, req, timeoutMs, req.mode === 'udp-connected');
        }
        result.ok++;
        bump(result.replies, r.reply);
        bump(result.peers, r.peer);
      } catch (err) {
        bump(result.errors, (err as { code?: string }).code ?? (err as Error).message);
        // A socket that saw an error may hold a stale reply or be dead: start a fresh one.
        sock?.close();
        sock = undefined;
        tcp?.destroy();
        tcp = undefined;
      }
      if (req.intervalMs) await new Promise((r) => setTimeout(r, req.intervalMs));
    }
    sock?.close();
    tcp?.destroy();
  };
  await Promise.all(Array.from({ length: req.concurrency ?? 1 }, worker));
  result.elapsedMs = Date.now() - start;
  return result;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const req = JSON.parse(process.argv[2] ?? '{}') as ProbeRequest;
  probe(req).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
