// A hand-written horizontal bar chart (SVG) of pkt/s by mode.

export interface Bar {
  label: string;
  value: number;
  kind: 'otwatch' | 'peer';
  /** Text after the value, e.g. "0.45× tcpdump". */
  note?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return v.toFixed(0);
}

export function barChart(title: string, subtitle: string, bars: Bar[], marker?: { value: number; label: string }): string {
  const W = 820;
  const left = 250;
  const right = 190;
  const top = 58;
  const bh = 22;
  const gap = 8;
  const plotW = W - left - right;
  const H = top + bars.length * (bh + gap) + 34;
  const max = Math.max(1, ...bars.map((b) => b.value), marker?.value ?? 0);
  const x = (v: number) => left + (plotW * v) / max;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${W / 2}" y="38" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`);
  // Grid: 5 ticks.
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const gx = x(v).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${H - 28}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${gx}" y="${H - 14}" text-anchor="middle" fill="#777">${fmtRate(v)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * (bh + gap);
    const w = Math.max(1, x(b.value) - left);
    const color = b.kind === 'otwatch' ? '#2b6cb0' : '#a0a0a0';
    out.push(`<text x="${left - 8}" y="${y + bh / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bh}" fill="${color}"/>`);
    out.push(
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + bh / 2 + 4}" fill="#222">${esc(`${fmtRate(b.value)} pkt/s${b.note ? `  ${b.note}` : ''}`)}</text>`,
    );
  });
  if (marker) {
    const mx = x(marker.value).toFixed(1);
    out.push(`<line x1="${mx}" y1="${top - 10}" x2="${mx}" y2="${H - 28}" stroke="#c53030" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${mx}" y="${top - 12}" text-anchor="middle" fill="#c53030" font-size="11">${esc(marker.label)}</text>`);
  }
  out.push(`<text x="${left}" y="${H - 2}" fill="#777" font-size="10">pkt/s (median); blue: otwatch, grey: peers</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
