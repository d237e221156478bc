// Per-code counters of a flow record (function codes, type ids, causes),
// with a bitmap of the codes seen: writing the record and resetting a
// pooled state visit only those codes, not every slot (most flows use two
// or three codes out of 256, and by the time a flow ends its counters are
// out of cache).
import type { JsonOut } from '../output/json-out.js';

export class CodeCounts {
  readonly n: Uint32Array;
  /** Bit c is set when n[c] > 0. */
  readonly used: Int32Array;

  constructor(readonly size: number) {
    this.n = new Uint32Array(size);
    this.used = new Int32Array((size + 31) >> 5);
  }

  add(code: number): void {
    if (this.n[code]++ === 0) this.used[code >> 5] |= 1 << (code & 31);
  }

  /** `{"code":n,...}` for every code counted, in code order (the per-code
   *  members of the flow records). */
  write(o: JsonOut): void {
    o.raw('{');
    let first = true;
    const used = this.used;
    for (let w = 0; w < used.length; w++) {
      let bits = used[w];
      while (bits !== 0) {
        const c = (w << 5) + 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        o.raw(first ? '"' : ',"');
        o.num(c);
        o.raw('":');
        o.num(this.n[c]);
        first = false;
      }
    }
    o.raw('}');
  }

  clear(): void {
    const used = this.used;
    for (let w = 0; w < used.length; w++) {
      let bits = used[w];
      if (bits === 0) continue;
      used[w] = 0;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        this.n[(w << 5) + b] = 0;
        bits &= bits - 1;
      }
    }
  }
}
