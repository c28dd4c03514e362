// Chain names exactly as kube-proxy derives them, so the baselines have kube-proxy's names,
// lengths and ordering. iptables mode (pkg/proxy/iptables): "KUBE-SVC-" / "KUBE-SEP-" + the
// first 16 characters of base32(sha256(...)). nftables mode (pkg/proxy/nftables): readable
// "ns/name/proto/port" names behind the first 8 characters of the same hash. Pure.
import { createHash } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** base32.StdEncoding of sha256(s) as Go writes it, without the padding (only prefixes are used). */
export function sha256Base32(s: string): string {
  return base32(createHash('sha256').update(s).digest());
}

const hash16 = (s: string): string => sha256Base32(s).slice(0, 16);

export interface ServicePortName {
  namespace: string;
  name: string;
  /** The port's name; "" for an unnamed port. */
  port: string;
}

/** Splits kube-proxy's ServicePortName.String() ("ns/name:port" or "ns/name"). */
export function parseServicePortName(owner: string): ServicePortName {
  const slash = owner.indexOf('/');
  const colon = owner.indexOf(':', slash + 1);
  return {
    namespace: owner.slice(0, slash),
    name: colon < 0 ? owner.slice(slash + 1) : owner.slice(slash + 1, colon),
    port: colon < 0 ? '' : owner.slice(colon + 1),
  };
}

/** servicePortName is kube-proxy's ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port. */
export function serviceChain(servicePortName: string, protocol: string): string {
  return `KUBE-SVC-${hash16(servicePortName + protocol.toLowerCase())}`;
}

/** The chain a service port's external destinations (NodePorts, external and load-balancer IPs) go through. */
export function externalChain(servicePortName: string, protocol: string): string {
  return `KUBE-EXT-${hash16(servicePortName + protocol.toLowerCase())}`;
}

/** endpoint is "ip:port" ("[ip]:port" for IPv6), as kube-proxy formats it. */
export function endpointChain(servicePortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(servicePortName + protocol.toLowerCase() + endpoint)}`;
}

// knftables.NameLengthMax (256) less kube-proxy's longest chain-name prefix (16).
const NFT_NAME_BASE_MAX = 240;

/** kube-proxy's hashAndTruncate: the hash keeps names unique and tells near-identical ones apart. */
function hashAndTruncate(name: string): string {
  const out = `${sha256Base32(name).slice(0, 8)}-${name}`;
  return out.length > NFT_NAME_BASE_MAX ? `${out.slice(0, NFT_NAME_BASE_MAX - 3)}...` : out;
}

/** "HASH-ns/name/proto/port" (servicePortChainNameBase), shared by service-, external- and firewall- chains. */
export function nftServiceChainBase(servicePortName: string, protocol: string): string {
  const p = parseServicePortName(servicePortName);
  return hashAndTruncate(`${p.namespace}/${p.name}/${protocol.toLowerCase()}/${p.port}`);
}

export function nftServiceChain(servicePortName: string, protocol: string): string {
  return `service-${nftServiceChainBase(servicePortName, protocol)}`;
}

/** The chain a service port's NodePorts, external and load-balancer IPs go through. */
export function nftExternalChain(servicePortName: string, protocol: string): string {
  return `external-${nftServiceChainBase(servicePortName, protocol)}`;
}

/** "endpoint-HASH-ns/name/proto/port__ip/port"; an IPv6 address has its colons written as dots (not allowed in a name). */
export function nftEndpointChain(servicePortName: string, protocol: string, address: string, port: number): string {
  const p = parseServicePortName(servicePortName);
  const ip = address.replaceAll(':', '.');
  return `endpoint-${hashAndTruncate(`${p.namespace}/${p.name}/${protocol.toLowerCase()}/${p.port}__${ip}/${port}`)}`;
}
