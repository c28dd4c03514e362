// kube-proxy's IPVS mode on the lab's node namespace, where the kernel offers IPVS. Whether it
// does is decided from what the machine says (/proc/net/ip_vs, the kernel config, ipvsadm),
// and the bench lists the mode as unavailable with that reason rather than measure anything
// else in its place. The installer puts kube-proxy's state (kube-ipvs0, ipsets, virtual
// servers, iptables rules) in the node namespace while the mode is on and removes it when off,
// since IPVS takes any packet for a bound VIP whatever iptables says.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { DesiredService } from '../../model/desired-services.js';
import { run } from '../../lab/command.js';
import type { PodNetwork } from '../../lab/pod-network.js';
import { IPVS_DUMMY_DEVICE, kubeProxyIpvs } from './kube-proxy-ipvs.js';
import { POD_CIDR_V4, prepareNode, wantBridgeNetfilter } from './node-netfilter.js';

export type IpvsAvailability = { available: true } | { available: false; reason: string };

/** What the machine says about IPVS; gathered by probeIpvs, judged by ipvsAvailabilityFrom. */
export interface IpvsFacts {
  kernel: string;
  /** /proc/net/ip_vs exists: ip_vs is built in or loaded. */
  procNetIpVs: boolean;
  /** The CONFIG_IP_VS line of /proc/config.gz, when the kernel exposes its config. */
  kernelConfig?: string;
  /** `ipvsadm -Ln`: undefined when ipvsadm is not installed. */
  ipvsadm?: { ok: boolean; output: string };
  ipsetInstalled: boolean;
}

export function ipvsAvailabilityFrom(f: IpvsFacts): IpvsAvailability {
  if (!f.procNetIpVs) {
    const why = [`kernel ${f.kernel} offers no IPVS: /proc/net/ip_vs does not exist (ip_vs neither built in nor loaded)`];
    if (f.kernelConfig) why.push(`its config says "${f.kernelConfig}"`);
    if (f.ipvsadm && !f.ipvsadm.ok) why.push(`ipvsadm -Ln: ${f.ipvsadm.output}`);
    return { available: false, reason: why.join('; ') };
  }
  if (f.ipvsadm && !f.ipvsadm.ok) return { available: false, reason: `IPVS: ipvsadm -Ln failed: ${f.ipvsadm.output}` };
  if (!f.ipvsadm) return { available: false, reason: 'the kernel has IPVS but ipvsadm is not installed (needed to load the virtual servers)' };
  if (!f.ipsetInstalled) return { available: false, reason: "the kernel has IPVS but ipset is not installed (kube-proxy's IPVS mode matches on ipsets)" };
  return { available: true };
}

function tryExec(cmd: string, args: string[]): { ok: boolean; output: string } | undefined {
  try {
    return { ok: true, output: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim() };
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') return undefined;
    return { ok: false, output: (e.stderr ?? '').trim() || e.message };
  }
}

function kernelConfigLine(): string | undefined {
  try {
    return /^(# )?CONFIG_IP_VS[ =].*$/m.exec(gunzipSync(readFileSync('/proc/config.gz')).toString())?.[0];
  } catch {
    return undefined;
  }
}

export function probeIpvs(): IpvsFacts {
  return {
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    procNetIpVs: existsSync('/proc/net/ip_vs'),
    kernelConfig: kernelConfigLine(),
    ipvsadm: tryExec('ipvsadm', ['-Ln']),
    ipsetInstalled: tryExec('ipset', ['--version']) !== undefined,
  };
}

export function ipvsAvailability(): IpvsAvailability {
  return ipvsAvailabilityFrom(probeIpvs());
}

export interface IpvsMode {
  virtualServers: number;
  /** On: VIPs bound and kube-proxy's jumps in place; off: as if kube-proxy were not there. */
  enable(on: boolean): void;
}

/** Only where ipvsAvailability() says available; throws with its reason otherwise. IPv4 services, like the iptables baseline. */
export function installIpvsMode(net: PodNetwork, services: readonly DesiredService[]): IpvsMode {
  const availability = ipvsAvailability();
  if (!availability.available) throw new Error(`IPVS mode unavailable: ${availability.reason}`);
  const ns = ['netns', 'exec', net.nodeNetns];
  const state = kubeProxyIpvs(services, 4, { clusterCidr: POD_CIDR_V4 });
  prepareNode(net.nodeNetns);
  run('ip', [...ns, 'sysctl', '-q', '-w', ...Object.entries(state.sysctls).map(([k, v]) => `${k}=${v}`)]);
  const addresses = state.addresses.map((a) => `address add ${a} dev ${IPVS_DUMMY_DEVICE}\n`).join('');
  let enabled = false;
  return {
    virtualServers: state.virtualServers,
    enable(on) {
      if (on === enabled) return;
      // Like the iptables mode, kube-proxy's state exists only while the mode is on: its
      // iptables rules (DNAT-free, but MASQUERADE) and IPVS itself keep the kernel's conntrack
      // busy for the whole namespace, which would charge every other mode.
      if (on) {
        run('ip', ['-n', net.nodeNetns, 'link', 'add', IPVS_DUMMY_DEVICE, 'type', 'dummy']);
        if (addresses) run('ip', ['-n', net.nodeNetns, '-batch', '-'], { input: addresses });
        run('ip', [...ns, 'ipset', 'restore'], { input: state.ipset });
        run('ip', [...ns, 'ipvsadm-restore'], { input: state.ipvsadm, timeoutMs: 300_000 });
        run('ip', [...ns, 'iptables-restore', '--noflush'], { input: state.iptables, timeoutMs: 300_000 });
        for (const [table, chain, rule] of state.entryJumps) run('ip', [...ns, 'iptables', '-t', table, '-I', chain, ...rule]);
      } else {
        run('ip', [...ns, 'nft', 'delete table ip nat; delete table ip filter']);
        run('ip', [...ns, 'ipvsadm', '-C']);
        run('ip', [...ns, 'ipset', 'destroy']);
        run('ip', ['-n', net.nodeNetns, 'link', 'del', IPVS_DUMMY_DEVICE]);
      }
      wantBridgeNetfilter(net.nodeNetns, 'ipvs', on);
      enabled = on;
    },
  };
}
