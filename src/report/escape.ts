// Escaping for every place a report puts text: HTML, JSON inside a <script>,
// Graphviz DOT strings, CSV cells. Asset names, vendors, product names and
// URLs come from the wire; a foreign database can hold anything at all.

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML element content or a quoted attribute value. */
export function html(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => HTML[c]);
}

/**
 * JSON for a <script type="application/json"> element: `<` is written as
 * \u003c so no `</script>` or `<!--` can end or change the element, and the
 * line separators U+2028/U+2029 as escapes. The value round-trips through
 * JSON.parse unchanged.
 */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A DOT double-quoted string whose text Graphviz writes into the SVG as given:
 * ASCII other than letters, digits, space and `.:/-_,()` becomes a numeric
 * character reference, which Graphviz passes through and the SVG reader
 * decodes as text; non-ASCII text stays UTF-8. So no quote reaches DOT's
 * parser, no `\N`/`\l` escape is interpreted, and no markup reaches the
 * SVG (tested through Graphviz).
 */
export function dotString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const plain = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || ' .:/-_,()'.includes(ch);
    // Control characters and lone surrogates have no place in a label.
    // Graphviz decodes references before its label escapes (\N, \l, \\), so a
    // backslash is written as the escape \\, which its label reader makes one.
    // Other non-ASCII text goes as UTF-8: Graphviz garbles references above U+FFFF.
    const surrogate = c >= 0xd800 && c <= 0xdfff;
    if (plain || (c >= 0xa0 && !surrogate)) out += ch;
    else if (c === 0x5c) out += '\\\\';
    else out += c < 0x20 || c === 0x7f || surrogate ? '?' : `&#${c};`;
  }
  return `${out}"`;
}

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break.
 * A cell that a spreadsheet would run as a formula (= + - @ tab CR first) is
 * prefixed with a quote mark, since these tables go into spreadsheets and
 * CMDBs and their text came from the network. Plain numbers are left alone.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = Array.isArray(v) ? v.join('; ') : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
