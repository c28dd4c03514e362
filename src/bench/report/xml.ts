// Minimal SVG/XML writing: escaped text and attributes, and numbers rounded so the output is
// stable and small (sub-pixel digits change nothing on screen but would churn golden files).

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export type Attrs = Record<string, string | number | undefined>;

const num = (v: number) => String(Math.round(v * 100) / 100);

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`)
    .join('');
}

/** An element; children are already-serialised markup, a string child is raw markup too. */
export function el(name: string, a: Attrs, children: string[] = []): string {
  return children.length === 0 ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${children.join('')}</${name}>`;
}

/** A text element whose content is escaped. */
export function textEl(a: Attrs, content: string): string {
  return `<text${attrs(a)}>${escapeXml(content)}</text>`;
}
