// Address words → text, only when a record is emitted.

export function ipv4Text(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** RFC 5952 text of an IPv6 address given as four 32-bit words. */
export function ipv6Text(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // IPv4-mapped ::ffff:a.b.c.d
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4Text(w3)}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) =>
    g
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function wordsToBytes(version: number, w0: number, w1: number, w2: number, w3: number): Uint8Array {
  const out = new Uint8Array(version === 4 ? 4 : 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, w0);
  if (version !== 4) {
    dv.setUint32(4, w1);
    dv.setUint32(8, w2);
    dv.setUint32(12, w3);
  }
  return out;
}
