// A client pod's load: makes requests to a host:port and reports who answered and what the
// socket said its peer was. In mode tcp each request is a new connection (connect, one
// request, one reply, close); in tcp-persistent each worker keeps one connection for all its
// requests; over UDP a datagram and its reply on one socket per worker, either unconnected
// (sendto/recvfrom) or connected. A failed request normally gets a fresh socket; with
// sourcePort, a udp-connected worker keeps one socket bound to that port for the whole run, as
// DNS resolvers and statsd clients do: a timeout is retried on it, and a send or receive error
// connects it to host:port again. Mode udp-spray fills socklb's UDP reverse map with real
// entries: `count` unconnected sockets each send one datagram to every address of `hosts`
// (at `port`) and wait for no reply.
// Usage: node probe-client.js '{"mode":"tcp","host":"10.96.0.10","port":80,"count":300}'
// Prints one JSON line: ProbeResult.
// With --serve it runs lists of requests read from stdin, each list at once (see serve()): a
// policy truth table probes every target of a source from one process, so the denied ones
// (which wait for their timeout) wait together.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface ProbeRequest {
  mode: 'tcp' | 'tcp-persistent' | 'udp' | 'udp-connected' | 'udp-spray';
  /** Pause between a worker's requests. */
  intervalMs?: number;
  host: string;
  port: number;
  /** Requests in all; workers stop at count or at durationMs, whichever comes first. */
  count: number;
  concurrency?: number;
  durationMs?: number;
  timeoutMs?: number;
  /** udp-connected with concurrency 1: the one socket's fixed local port (see the top). */
  sourcePort?: number;
  /** udp-spray: the addresses every socket sends to (host is not used). */
  hosts?: string[];
}

export interface ProbeResult {
  ok: number;
  /** Reply text ("NAME:PORT") to how many requests got it. */
  replies: Record<string, number>;
  /** Error code (ECONNREFUSED, ETIMEDOUT, ...) to count. */
  errors: Record<string, number>;
  /** The peer address the socket reported (getpeername or recvfrom), to count. A connected
   * socket whose recvfrom disagrees with getpeername counts as "PEER (recvfrom SOURCE)". */
  peers: Record<string, number>;
  /** Reply text to when (Date.now()) it came first and last. */
  replyTimes: Record<string, { first: number; last: number }>;
  /** Times a socket with sourcePort was connected again after an error. */
  reconnects: number;
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
    const finish = (err: Error | undefined, r?: { reply: string; peer: string }): void => {
      clearTimeout(timer);
      sock.off('message', onMessage);
      sock.off('error', finish);
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(timeoutError()), timeoutMs);
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }): void => {
      const source = `${rinfo.address}:${rinfo.port}`;
      let peer = source;
      if (connected) {
        const remote = sock.remoteAddress();
        peer = `${remote.address}:${remote.port}`;
        if (peer !== source) peer += ` (recvfrom ${source})`;
      }
      finish(undefined, { reply: msg.toString().trim(), peer });
    };
    sock.once('message', onMessage);
    // A receive error (a destroyed socket's ECONNABORTED, an ICMP error's ECONNREFUSED).
    sock.once('error', finish);
    const sent = (err: Error | null): void => {
      if (err) finish(err);
    };
    if (connected) sock.send('x\n', sent);
    else sock.send('x\n', req.port, req.host, sent);
  });
}

function udpConnect(sock: UdpSocket, req: ProbeRequest): Promise<void> {
  return new Promise<void>((resolve, reject) => sock.connect(req.port, req.host, (err?: Error) => (err ? reject(err) : resolve())));
}

async function udpSocket(req: ProbeRequest): Promise<UdpSocket> {
  const sock = createSocket(req.host.includes(':') ? 'udp6' : 'udp4');
  sock.on('error', () => undefined);
  if (req.sourcePort !== undefined) await new Promise<void>((resolve) => sock.bind(req.sourcePort, resolve));
  if (req.mode === 'udp-connected') {
    // A refused connect (EPERM, ECONNREFUSED) must not leave the socket holding the process open.
    await udpConnect(sock, req).catch((err: unknown) => {
      sock.close();
      throw err;
    });
  }
  return sock;
}

/** A resolver's answer to an error on its one socket: a timeout is retried as it is; anything
 * else (the socket was destroyed, the peer refused) connects it again. */
async function reconnect(sock: UdpSocket, req: ProbeRequest, err: unknown): Promise<boolean> {
  if ((err as { code?: string }).code === 'ETIMEDOUT') return false;
  try {
    sock.disconnect();
  } catch {
    // not connected as far as Node knows: connect below is what matters
  }
  await udpConnect(sock, req);
  return true;
}

/** udp-spray: ok counts datagrams sent. Sockets stay open until all have sent. */
async function spray(req: ProbeRequest, result: ProbeResult): Promise<void> {
  const hosts = req.hosts ?? [];
  const sockets: UdpSocket[] = [];
  try {
    for (let i = 0; i < req.count; i++) {
      const sock = createSocket(hosts[0]?.includes(':') ? 'udp6' : 'udp4');
      sock.on('error', () => undefined);
      sockets.push(sock);
      await new Promise<void>((resolve) => {
        let pending = hosts.length;
        const sent = (err: Error | null): void => {
          if (err) bump(result.errors, (err as { code?: string }).code ?? err.message);
          else result.ok++;
          if (--pending === 0) resolve();
        };
        if (pending === 0) resolve();
        for (const host of hosts) sock.send('x', req.port, host, sent);
      });
    }
  } finally {
    for (const sock of sockets) sock.close();
  }
}

export async function probe(req: ProbeRequest): Promise<ProbeResult> {
  const result: ProbeResult = { ok: 0, replies: {}, errors: {}, peers: {}, replyTimes: {}, reconnects: 0, elapsedMs: 0 };
  const persistent = req.sourcePort !== undefined && req.mode === 'udp-connected';
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
        const now = Date.now();
        result.replyTimes[r.reply] ??= { first: now, last: now };
        result.replyTimes[r.reply]!.last = now;
      } catch (err) {
        bump(result.errors, (err as { code?: string }).code ?? (err as Error).message);
        if (persistent && sock) {
          if (await reconnect(sock, req, err).catch(() => false)) result.reconnects++;
        } else {
          // A socket that saw an error may hold a stale reply or be dead: start a fresh one.
          sock?.close();
          sock = undefined;
          tcp?.destroy();
          tcp = undefined;
        }
      }
      if (req.intervalMs) await new Promise((r) => setTimeout(r, req.intervalMs));
    }
    sock?.close();
    tcp?.destroy();
  };
  if (req.mode === 'udp-spray') await spray(req, result);
  else await Promise.all(Array.from({ length: req.concurrency ?? 1 }, worker));
  result.elapsedMs = Date.now() - start;
  return result;
}

/** --serve: reads one JSON list of requests per stdin line, runs each list at once, and prints
 * its results as one line, in the order the lists came; ends with stdin. A table that probes
 * again and again from the same pods starts one process per pod, not one per round. */
function serve(): void {
  let queue = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    queue = queue.then(async () => {
      const results = await Promise.all((JSON.parse(line) as ProbeRequest[]).map(probe));
      process.stdout.write(`${JSON.stringify(results)}\n`);
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain && process.argv[2] === '--serve') serve();
else if (isMain) {
  const req = JSON.parse(process.argv[2] ?? '{}') as ProbeRequest;
  probe(req).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
