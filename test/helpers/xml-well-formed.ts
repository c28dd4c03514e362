// A small XML well-formedness check for generated SVG, so tests need no XML parser dependency:
// tags balance, attribute values are quoted and free of '<', and every '&' starts an entity
// (and, stricter than XML, text holds no raw '>', which our escaping never leaves).
const NAME = '[A-Za-z_][\\w:.-]*';
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}="[^"<]*")*)\\s*(/?)>`);
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

/** Problems found, empty when the document is well-formed. */
export function xmlProblems(doc: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let s = doc.replace(/^<\?xml[^?]*\?>/, '');
  let offset = doc.length - s.length;
  while (s.length > 0) {
    if (s.startsWith('<!--')) {
      const end = s.indexOf('-->');
      if (end < 0) return [...problems, `unterminated comment at ${offset}`];
      [s, offset] = [s.slice(end + 3), offset + end + 3];
      continue;
    }
    if (s.startsWith('<')) {
      const m = TAG.exec(s);
      if (!m) return [...problems, `malformed tag at ${offset}: ${s.slice(0, 40)}`];
      const [whole, closing, name, attrs, selfClosing] = m;
      for (const value of attrs!.matchAll(/="([^"]*)"/g)) checkAmpersands(value[1]!, offset, problems);
      if (closing) {
        const open = stack.pop();
        if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}> at ${offset}`);
      } else if (!selfClosing) {
        if (stack.length === 0) roots++;
        stack.push(name!);
      } else if (stack.length === 0) roots++;
      [s, offset] = [s.slice(whole.length), offset + whole.length];
      continue;
    }
    const next = s.indexOf('<');
    const text = next < 0 ? s : s.slice(0, next);
    if (stack.length === 0 && text.trim() !== '') problems.push(`text outside the root at ${offset}`);
    if (text.includes('>')) problems.push(`raw '>' in text at ${offset}`);
    checkAmpersands(text, offset, problems);
    [s, offset] = [s.slice(text.length), offset + text.length];
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

function checkAmpersands(text: string, offset: number, problems: string[]): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) problems.push(`bare '&' at ${offset + i}`);
  }
}
