// One colour per mode, the same in every chart and every run, so a reader learns "blue is socket"
// once. Known modes get hand-picked colours (socket stands out; the direct baselines are greys);
// any other mode is hashed into a palette, so its colour doesn't depend on which modes ran.

const KNOWN: Record<string, string> = {
  socket: '#2563eb',
  conntrack: '#d97706',
  iptables: '#dc2626',
  'iptables-legacy': '#f87171',
  nftables: '#7c3aed',
  ipvs: '#059669',
  direct: '#1f2937',
  'direct-hooked': '#6b7280',
};

// Distinct from the known colours and dark enough for lines on white.
const PALETTE = ['#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5', '#0d9488', '#a16207', '#be123c'];

/** FNV-1a: tiny, stable across Node versions, and spreads short similar names apart. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const ch of s) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function modeColor(mode: string): string {
  return KNOWN[mode] ?? PALETTE[fnv1a(mode) % PALETTE.length]!;
}
