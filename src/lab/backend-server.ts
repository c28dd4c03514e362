// A backend pod's server for tests and the demo: on each listed port it answers every TCP
// chunk and every UDP datagram with "NAME:PORT\n", so clients can tell who served them.
// Usage: node backend-server.js NAME PORT[,PORT...]   (prints "listening" when ready)
// SIGUSR2 makes it print "accepted N": the TCP connections it has accepted so far, then
// "clients {JSON}": how many of them came from each client address (IPv4 as a.b.c.d), which
// tells whether a client's address reached the backend or was source-NATed on the way.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const [name, portList] = process.argv.slice(2);
if (!name || !portList) {
  process.stderr.write('usage: backend-server NAME PORT[,PORT...]\n');
  process.exit(2);
}
const ports = portList.split(',').map(Number);

let pending = ports.length * 2;
const ready = (): void => {
  if (--pending === 0) process.stdout.write('listening\n');
};

const closers: (() => void)[] = [];
let accepted = 0;
const clients: Record<string, number> = {};
process.on('SIGUSR2', () => process.stdout.write(`accepted ${accepted}\nclients ${JSON.stringify(clients)}\n`));
for (const port of ports) {
  const reply = Buffer.from(`${name}:${port}\n`);
  // "::" without ipv6Only takes IPv4 too (as v4-mapped peers).
  const tcp = createServer((sock) => {
    accepted++;
    const client = (sock.remoteAddress ?? '?').replace(/^::ffff:/, '');
    clients[client] = (clients[client] ?? 0) + 1;
    sock.on('data', () => sock.write(reply));
    sock.on('error', () => sock.destroy());
  }).listen({ host: '::', port }, ready);
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (_msg, rinfo) => udp.send(reply, rinfo.port, rinfo.address));
  udp.bind(port, '::', ready);
  closers.push(() => {
    tcp.close();
    udp.close();
  });
}

// SIGTERM is a pod's graceful termination: stop accepting (a new connection is refused),
// let connections already open finish, exit within a grace period.
const GRACE_MS = 1000;
process.on('SIGTERM', () => {
  for (const close of closers) close();
  setTimeout(() => process.exit(0), GRACE_MS).unref();
});
