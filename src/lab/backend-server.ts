// A backend pod's server for tests and the demo: on each listed port it answers every TCP
// chunk and every UDP datagram with "NAME:PORT\n", so clients can tell who served them.
// Usage: node backend-server.js NAME PORT[,PORT...]   (prints "listening" when ready)
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

for (const port of ports) {
  const reply = Buffer.from(`${name}:${port}\n`);
  // "::" without ipv6Only takes IPv4 too (as v4-mapped peers).
  createServer((sock) => {
    sock.on('data', () => sock.write(reply));
    sock.on('error', () => sock.destroy());
  }).listen({ host: '::', port }, ready);
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (_msg, rinfo) => udp.send(reply, rinfo.port, rinfo.address));
  udp.bind(port, '::', ready);
}
process.on('SIGTERM', () => process.exit(0));
