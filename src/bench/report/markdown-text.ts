// Markdown building blocks that keep measured names and free text from turning into markup: a
// mode called "a<b" must not open an HTML tag on GitHub, and "|" must not split a table cell.

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Free text (descriptions, notes): neutralise HTML but keep the author's Markdown (`code`, *emphasis*). */
export function mdProse(s: string): string {
  return s.replace(/[&<>]/g, (c) => HTML[c]!).replace(/\r?\n/g, ' ');
}

/** An identifier shown verbatim (mode names, labels): no Markdown or HTML meaning at all. */
export function mdLiteral(s: string): string {
  return mdProse(s).replace(/[\\`*_[\]|#]/g, (c) => `\\${c}`);
}

/** Inline code whose fence is longer than any run of backticks inside it. */
export function inlineCode(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

export type Align = 'left' | 'right';

/** A GitHub table; cells are already-rendered Markdown, only pipes and newlines are escaped here. */
export function mdTable(header: string[], align: Align[], rows: string[][]): string {
  const cell = (s: string) => s.replace(/(?<!\\)\|/g, '\\|').replace(/\r?\n/g, ' ');
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${align.map((a) => (a === 'right' ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
