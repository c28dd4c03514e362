// Which network interfaces are pods' (their host-side ends), by name patterns such as the
// CNIs' conventions: lxc* (Cilium), cali* (Calico), veth* (bridge and ptp plugins); the same
// patterns name the node's external devices (--node-devices). Pure.

/** What --pod-interfaces defaults to: the host-side names of the common CNIs. */
export const DEFAULT_POD_INTERFACE_PATTERNS = ['lxc*', 'cali*', 'veth*', 'eni*', 'gke*', 'azv*'] as const;

function patternRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** A predicate over interface names; `*` matches any run of characters, `?` one. */
export function interfaceMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(patternRegExp);
  return (name) => res.some((re) => re.test(name));
}

/** The entries of a comma-separated flag value, trimmed, empty ones dropped. */
export function commaList(list: string): string[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Parses a comma-separated list of name patterns as --pod-interfaces (flag) takes it; throws
 * on an empty or odd entry. */
export function parseInterfacePatterns(list: string, flag = '--pod-interfaces', example = 'lxc*,veth*'): string[] {
  const patterns = commaList(list);
  if (patterns.length === 0) throw new Error(`${flag} is empty; give name patterns such as "${example}"`);
  for (const p of patterns) {
    if (!/^[A-Za-z0-9_.:@*?-]+$/.test(p) || p.length > 64) throw new Error(`${flag}: "${p}" is not an interface name pattern (letters, digits, _ . : @ - and the wildcards * ?)`);
  }
  return patterns;
}
