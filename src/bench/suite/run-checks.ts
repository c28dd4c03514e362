// What every bench run must satisfy before its numbers count: transactions completed without
// failures, answers only from the service's backends (all of them, for short connections to
// a service), and no kernel conntrack where a mode should keep none.
import type { ClientRun } from './bench-topology.js';

/** Problems found while checking runs; the suite reports them, the CI smoke test fails on them. */
export type Problems = string[];

/** Checks one run; "balanced" asks that every backend answered (short connections to a service). */
export function checkRun(r: ClientRun, context: string, backends: readonly string[], balanced: boolean): string[] {
  const problems: string[] = [];
  if (r.transactions === 0) problems.push(`${context}: ${r.mode} completed no transaction`);
  if (r.errors > 0) problems.push(`${context}: ${r.mode} had ${r.errors} failed transactions`);
  if (r.strayReplies > 0) problems.push(`${context}: ${r.mode} got ${r.strayReplies} answers from servers that are not the service's backends`);
  // Only kube-proxy's layouts track connections in the kernel; any count elsewhere means a
  // baseline's hooks stayed in the packet path and charged another mode for them.
  if (!['iptables', 'iptables-legacy', 'nftables', 'ipvs'].includes(r.mode.split('+')[0]!) && r.kernelConntrack > 0) problems.push(`${context}: ${r.mode} left ${r.kernelConntrack} kernel conntrack entries`);
  if (balanced) {
    const silent = backends.filter((b) => !r.replies[b]);
    if (silent.length > 0) problems.push(`${context}: ${r.mode} never reached ${silent.join(', ')} (answers: ${JSON.stringify(r.replies)})`);
  }
  return problems;
}
