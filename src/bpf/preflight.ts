// Checks, before touching the kernel, that this process may load and attach BPF programs and
// that the kernel is new enough, so a user gets one message naming what is missing instead of
// an errno from deep inside libbpf.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** Socket-address hooks with bpf_link, bpf_set_retval and sk storage there all exist from 5.18. */
export const MIN_KERNEL: readonly [number, number] = [5, 18];

export function effectiveCapabilities(status: string): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

/** Names of the capabilities missing for loading and attaching socklb's programs. */
export function missingCapabilities(capEff: bigint): string[] {
  const has = (bit: number): boolean => (capEff & (1n << BigInt(bit))) !== 0n;
  const missing: string[] = [];
  if (!has(CAP_NET_ADMIN)) missing.push('CAP_NET_ADMIN');
  // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON on every kernel.
  if (!has(CAP_SYS_ADMIN)) {
    if (!has(CAP_BPF)) missing.push('CAP_BPF (or CAP_SYS_ADMIN)');
    if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON (or CAP_SYS_ADMIN)');
  }
  return missing;
}

/** Capabilities the DaemonSet adds beyond the datapath's, for one feature: destroying connected
 * UDP sockets whose backend left (src/datapath/udp-sock-destroy.ts) runs an iterator inside each
 * pod's network namespace, and entering one takes CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (to
 * open another process's /proc/PID/ns/net), with the host's PID namespace to see the pods'
 * processes. Without them the agent runs, and a warning counts the namespaces it cannot enter. */
export const POD_SOCKET_CAPABILITIES = ['SYS_ADMIN', 'SYS_PTRACE'] as const;

export function kernelTooOld(releaseText: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(releaseText);
  if (!m) return false; // unknown format: let the kernel decide
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor < MIN_KERNEL[1]);
}

/** Throws one actionable error when the process or kernel cannot run the datapath. */
export function checkCanLoadBpf(status = readFileSync('/proc/self/status', 'utf8'), kernel = release()): void {
  const problems: string[] = [];
  const missing = missingCapabilities(effectiveCapabilities(status));
  if (missing.length > 0) problems.push(`this process lacks ${missing.join(', ')}: run as root, or grant them (the DaemonSet does)`);
  if (kernelTooOld(kernel)) problems.push(`the kernel is ${kernel}; socklb needs Linux ${MIN_KERNEL.join('.')} or newer`);
  if (problems.length > 0) throw new Error(`cannot install the socklb datapath: ${problems.join('; ')}`);
}
