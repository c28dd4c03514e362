// A small rtnetlink client over libc's socket/send/recv: the kernel's answers to the three
// questions the agent asks about its network namespace (the calling thread's, so it follows
// inNetns()): its links (name, kind, bridge master), the route it takes to an address (`ip
// route get`), and its neighbour and bridge forwarding entries. No iproute2 in the image, and
// /sys/class/net would show the namespace sysfs was mounted in, not the thread's.
import { constants } from 'node:os';
import { BpfError } from './bpf-error.js';
import { lastErrno, native } from './libbpf.js';
import { ipFamily, ipFromBytes, ipToBytes } from '../net/ip-address.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_HDRLEN = 16;

const RTM_GETLINK = 18;
const RTM_GETROUTE = 26;
const RTM_GETNEIGH = 30;
const RTM_GETADDR = 22;

const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const RTA_DST = 1;
const RTA_OIF = 4;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_MASTER = 9;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RT_SCOPE_UNIVERSE = 0;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_BRIDGE = 7;

/** rtm_type of a route (linux/rtnetlink.h), for messages. */
export const ROUTE_TYPES: Readonly<Record<number, string>> = { 1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw' };
export const RTN_UNICAST = 1;

const align4 = (n: number): number => (n + 3) & ~3;

function attr(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + data.length));
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

/** The attributes of one message (or of a nested attribute), by type; the last one wins. */
function parseAttrs(buf: Buffer, from: number, to: number): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  for (let at = from; at + 4 <= to; ) {
    const len = buf.readUInt16LE(at);
    if (len < 4) break;
    // NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the type's top bits.
    attrs.set(buf.readUInt16LE(at + 2) & 0x3fff, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return attrs;
}

interface Reply {
  type: number;
  /** The message after its netlink header. */
  body: Buffer;
}

let sequence = 0;

/** One request and every message answering it (a dump's until NLMSG_DONE). */
function exchange(type: number, flags: number, header: Buffer, attrs: Buffer[], what: string): Reply[] {
  const fd = native.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) as number;
  if (fd < 0) throw new BpfError(`${what}: open a netlink socket`, lastErrnoOr(constants.errno.EIO));
  try {
    const seq = ++sequence;
    const payload = Buffer.concat([header, ...attrs]);
    const msg = Buffer.alloc(NLMSG_HDRLEN + payload.length);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(NLM_F_REQUEST | flags, 6);
    msg.writeUInt32LE(seq, 8);
    payload.copy(msg, NLMSG_HDRLEN);
    if ((native.send(fd, msg, msg.length, 0) as number) < 0) throw new BpfError(`${what}: send`, lastErrnoOr(constants.errno.EIO));
    const replies: Reply[] = [];
    const buf = Buffer.alloc(1 << 16);
    const dump = (flags & NLM_F_DUMP) !== 0;
    for (;;) {
      const n = native.recv(fd, buf, buf.length, 0) as number;
      if (n < 0) throw new BpfError(`${what}: receive`, lastErrnoOr(constants.errno.EIO));
      for (let at = 0; at + NLMSG_HDRLEN <= n; ) {
        const len = buf.readUInt32LE(at);
        if (len < NLMSG_HDRLEN) return replies;
        const mtype = buf.readUInt16LE(at + 4);
        if (buf.readUInt32LE(at + 8) === seq) {
          if (mtype === NLMSG_DONE) return replies;
          if (mtype === NLMSG_ERROR) {
            const errno = -buf.readInt32LE(at + NLMSG_HDRLEN);
            if (errno !== 0) throw new BpfError(what, errno);
            return replies;
          }
          replies.push({ type: mtype, body: Buffer.from(buf.subarray(at + NLMSG_HDRLEN, at + len)) });
          if (!dump) return replies;
        }
        at += align4(len);
      }
    }
  } finally {
    native.close(fd);
  }
}

function lastErrnoOr(fallback: number): number {
  const e = lastErrno();
  return e > 0 ? e : fallback;
}

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: "bridge", "veth", "macvlan", ...; undefined for a physical device or lo. */
  kind?: string;
  /** The bridge (or bond) this link is a port of. */
  master?: number;
}

/** Every link of the namespace. */
export function listLinks(): Link[] {
  const ifinfo = Buffer.alloc(16); // struct ifinfomsg, family AF_UNSPEC
  return exchange(RTM_GETLINK, NLM_F_DUMP, ifinfo, [], 'list links').map(({ body }) => {
    const attrs = parseAttrs(body, 16, body.length);
    const name = attrs.get(IFLA_IFNAME);
    const info = attrs.get(IFLA_LINKINFO);
    const kind = info ? parseAttrs(info, 0, info.length).get(IFLA_INFO_KIND) : undefined;
    const master = attrs.get(IFLA_MASTER);
    return {
      index: body.readInt32LE(4),
      name: name ? name.subarray(0, name.indexOf(0) < 0 ? name.length : name.indexOf(0)).toString() : '',
      ...(kind ? { kind: kind.subarray(0, kind.indexOf(0) < 0 ? kind.length : kind.indexOf(0)).toString() } : {}),
      ...(master ? { master: master.readUInt32LE(0) } : {}),
    };
  });
}

export interface RouteToAddress {
  /** rtm_type: RTN_UNICAST for a route through an interface (see ROUTE_TYPES). */
  type: number;
  /** The output interface's index, for a unicast route. */
  oif?: number;
}

const addressBytes = (address: string): Buffer => {
  const bytes = Buffer.from(ipToBytes(address));
  return ipFamily(address) === 4 ? bytes.subarray(12) : bytes;
};

/** The route the namespace takes to `address` (what `ip route get ADDRESS` prints). */
export function routeTo(address: string): RouteToAddress {
  const v4 = ipFamily(address) === 4;
  const rtmsg = Buffer.alloc(12);
  rtmsg.writeUInt8(v4 ? AF_INET : AF_INET6, 0);
  rtmsg.writeUInt8(v4 ? 32 : 128, 1); // rtm_dst_len
  const [reply] = exchange(RTM_GETROUTE, 0, rtmsg, [attr(RTA_DST, addressBytes(address))], `route to ${address}`);
  if (!reply) throw new Error(`route to ${address}: the kernel answered nothing`);
  const oif = parseAttrs(reply.body, 12, reply.body.length).get(RTA_OIF);
  return { type: reply.body.readUInt8(7), ...(oif ? { oif: oif.readUInt32LE(0) } : {}) };
}

export interface InterfaceAddress {
  ifindex: number;
  address: string;
  prefixLength: number;
  /** Global (RT_SCOPE_UNIVERSE), not host (lo's 127.0.0.1, ::1) or link (fe80::/10). */
  global: boolean;
}

const addressText = (b: Buffer): string => ipFromBytes(b.length === 4 ? new Uint8Array([...Buffer.alloc(10), 0xff, 0xff, ...b]) : new Uint8Array(b));

/** Every address of every interface of the namespace, IPv4 and IPv6. */
export function listAddresses(): InterfaceAddress[] {
  const ifaddrmsg = Buffer.alloc(8); // family AF_UNSPEC: both
  return exchange(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg, [], 'list addresses').flatMap(({ body }) => {
    const attrs = parseAttrs(body, 8, body.length);
    // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
    const raw = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    if (!raw || (raw.length !== 4 && raw.length !== 16)) return [];
    return [{ ifindex: body.readUInt32LE(4), address: addressText(raw), prefixLength: body.readUInt8(1), global: body.readUInt8(3) === RT_SCOPE_UNIVERSE }];
  });
}

export interface Neighbour {
  /** The interface the entry is on (a bridge port, for AF_BRIDGE entries). */
  ifindex: number;
  /** The IP address (AF_INET, AF_INET6 entries). */
  address?: string;
  /** The MAC address, "aa:bb:cc:dd:ee:ff". */
  mac?: string;
  /** AF_BRIDGE: the bridge the entry belongs to. */
  master?: number;
}

const macText = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** The neighbour table of a family (AF_INET, AF_INET6), or the bridges' forwarding entries (AF_BRIDGE). */
export function listNeighbours(family: typeof AF_INET | typeof AF_INET6 | typeof AF_BRIDGE): Neighbour[] {
  const ndmsg = Buffer.alloc(12);
  ndmsg.writeUInt8(family, 0);
  return exchange(RTM_GETNEIGH, NLM_F_DUMP, ndmsg, [], 'list neighbours').map(({ body }) => {
    const attrs = parseAttrs(body, 12, body.length);
    const dst = attrs.get(NDA_DST);
    const mac = attrs.get(NDA_LLADDR);
    const master = attrs.get(NDA_MASTER);
    const address = dst && (dst.length === 4 || dst.length === 16) ? addressText(dst) : undefined;
    return {
      ifindex: body.readInt32LE(4),
      ...(address ? { address } : {}),
      ...(mac && mac.length === 6 ? { mac: macText(mac) } : {}),
      ...(master ? { master: master.readUInt32LE(0) } : {}),
    };
  });
}
