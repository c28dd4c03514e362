// A client pod's load: makes requests to a host:port and reports who answered and what the
// socket said its peer was. Each request over TCP is a new connection (connect, one request,
// one reply, close); over UDP a datagram and its reply on one socket per worker, either
// unconnected (sendto/recvfrom) or connected.
// Usage: node probe-client.js '{"mode":"tcp","host":"10.96.0.10","port":80,"count":300}'
// Prints one JSON line: ProbeResult.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';

export interface ProbeRequest {
  mode: 'tcp' | 'udp' | 'udp-connected';
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

function tcpRequest(req: ProbeRequest, timeoutMs: number): Promise<{ reply: string; peer: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: req.host, port: req.port });
    const timer = setTimeout(() => sock.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
    let peer = '';
    let data = '';
    sock.on('connect', () => {
      peer = `${sock.remoteAddress}:${sock.remotePort}`;
      sock.write('x\n');
    });
    sock.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\n')) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ reply: data.trim(), peer });
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function udpRequest(sock: UdpSocket, req: ProbeRequest, timeoutMs: number, connected: boolean): Promise<{ reply: string; peer: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.off('message', onMessage);
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }): void => {
      clearTimeout(timer);
      const peer = connected ? `${sock.remoteAddress().address}:${sock.remoteAddress().port}` : `${rinfo.address}:${rinfo.port}`;
      resolve({ reply: msg.toString().trim(), peer });
    };
    sock.once('message', onMessage);
    const done = (err: Error | null): void => {
      if (!err) return;
      clearTimeout(timer);
      sock.off('message', onMessage);
      reject(err);
    };
    if (connected) sock.send('x\n', done);
    else sock.send('x\n', req.port, req.host, done);
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
    while (issued < req.count && Date.now() < until) {
      issued++;
      try {
        let r: { reply: string; peer: string };
        if (req.mode === 'tcp') r = await tcpRequest(req, timeoutMs);
        else {
          sock ??= await udpSocket(req);
          r = await udpRequest(sock, req, timeoutMs, req.mode === 'udp-connected');
        }
        result.ok++;
        bump(result.replies, r.reply);
        bump(result.peers, r.peer);
      } catch (err) {
        bump(result.errors, (err as { code?: string }).code ?? (err as Error).message);
        // A UDP socket that saw an error may hold a stale reply: start a fresh one.
        sock?.close();
        sock = undefined;
      }
    }
    sock?.close();
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
