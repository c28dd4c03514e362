// What kube-proxy writes when one service's endpoints change at N services (its partial sync):
// only that service's own chains, rewritten, and its endpoints' chains; the service dispatch
// (KUBE-SERVICES, the service-ips map) is untouched because the service itself still exists.
// Cut from the generators' full output for just that service, so the rules are the same text
// a full sync writes. Pure.
import type { DesiredService } from '../../model/desired-services.js';
import { ipFamily } from '../../net/ip-address.js';
import { kubeProxyIptables } from './kube-proxy-iptables.js';
import { kubeProxyNftables } from './kube-proxy-nftables.js';

function familyOf(service: DesiredService): 4 | 6 {
  const family = ipFamily(service.frontend.address);
  if (family === undefined) throw new Error(`${service.owner}: ${service.frontend.address} is not an IP address`);
  return family;
}

/** iptables-restore --noflush input: declaring a chain flushes it, then its rules. */
export function iptablesPartialSync(service: DesiredService, clusterCidr?: string): string {
  const own = /^(:|-A )KUBE-(SVC|SEP)-/;
  const lines = kubeProxyIptables([service], familyOf(service), clusterCidr ? { clusterCidr } : {})
    .restore.split('\n')
    .filter((l) => own.test(l));
  return ['*nat', ...lines, 'COMMIT', ''].join('\n');
}

/** nft -f input: the service's and its endpoints' chains added, flushed and filled. */
export function nftablesPartialSync(service: DesiredService, clusterCidr?: string): string {
  const own = /^(add|flush) (chain|rule) ip6? kube-proxy (service|endpoint)-[A-Z0-9]{8}-/;
  const lines = kubeProxyNftables([service], familyOf(service), clusterCidr ? { clusterCidr } : {})
    .transaction.split('\n')
    .filter((l) => own.test(l));
  return `${lines.join('\n')}\n`;
}
