// Python's %-style format strings with named references, `%(name)s` and `%%`:
// what PasteDeploy ini values use for interpolation and TransLogger for its line.

/** A format split into literal text and reference names, alternating: text, name, text, ..., text. */
export type PercentParts = readonly string[];

/**
 * Split `text` at its `%(name)s` references (`%%` is a literal `%`). Returns the
 * parts, or the index of the first `%` that starts neither form.
 */
export function splitPercentFormat(text: string): PercentParts | number {
  const parts: string[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const pct = text.indexOf('%', i);
    if (pct === -1) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, pct);
    if (text[pct + 1] === '%') {
      literal += '%';
      i = pct + 2;
      continue;
    }
    const close = text.indexOf(')s', pct);
    if (text[pct + 1] !== '(' || close === -1) return pct;
    parts.push(literal, text.slice(pct + 2, close));
    literal = '';
    i = close + 2;
  }
  parts.push(literal);
  return parts;
}
