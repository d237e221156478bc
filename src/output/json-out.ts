// Writes JSON text as bytes straight into an output buffer: the fixed-schema
// serializer of the hot record types (PDUs, one record per application
// message). Building a record as a string costs the concatenation, then a
// flatten and a UTF-8 encode inside Buffer.write; here each field goes to
// its bytes once. Output is byte-for-byte what the template strings gave
// (test/output/json-out.test.ts checks both ways on every kind of value).
import type { ByteOut } from './fd-writer.js';

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const Q = 0x22; // "
const BS = 0x5c; // \

export class JsonOut {
  buf: Buffer;
  pos = 0;

  /** `w`: write into that writer's buffer, flushing it when full; null:
   *  render into an own buffer that grows (see text()). */
  constructor(private readonly w: ByteOut | null) {
    this.buf = w === null ? Buffer.allocUnsafe(4096) : w.buf;
  }

  /** Starts a record (takes the writer's position). */
  begin(): void {
    if (this.w !== null) {
      this.buf = this.w.buf;
      this.pos = this.w.used;
    } else {
      this.pos = 0;
    }
  }

  /** Ends a record (hands the position back to the writer). */
  end(): void {
    if (this.w !== null) this.w.used = this.pos;
  }

  /** The rendered text (own-buffer mode). */
  text(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.w !== null) {
      this.w.used = this.pos;
      this.w.flush();
      this.buf = this.w.buf; // a flush may hand over the buffer and take a new one
      this.pos = this.w.used;
      if (n <= this.buf.length) return;
      // Callers pass longer text to the writer itself (rawSlow): unreachable.
      throw new Error(`JsonOut: ${n} bytes at once exceed the output buffer`);
    }
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
  }

  /** ASCII text as it is: constant keys and punctuation, or text already in
   *  JSON form. Small so that it inlines; anything else goes to rawSlow. */
  raw(s: string): void {
    const n = s.length;
    const b = this.buf;
    let p = this.pos;
    if (n > 64 || p + n > b.length) {
      this.rawSlow(s);
      return;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.rawSlow(s);
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  private rawSlow(s: string): void {
    const n = s.length;
    if (this.w !== null && n * 3 > this.w.buf.length) {
      // Longer than the writer's buffer: the writer handles it.
      this.w.used = this.pos;
      this.w.write(s);
      this.buf = this.w.buf;
      this.pos = this.w.used;
      return;
    }
    this.room(n * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A constant encoded once with lit(): a byte copy, no per-character
   *  decoding (the keys of the flow and PDU records). */
  lit(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.room(n);
    const buf = this.buf;
    let p = this.pos;
    if (n > 16) {
      // TypedArray set is a flat ~11 ns; the loop ~1 ns a byte (measured).
      buf.set(b, p);
      this.pos = p + n;
      return;
    }
    for (let i = 0; i < n; i++) buf[p++] = b[i];
    this.pos = p;
  }

  /** Text the caller knows is ASCII (a record's flow head: addresses,
   *  ports, base64): copied by one native call. */
  ascii(s: string): void {
    const n = s.length;
    if (n < 32) {
      this.raw(s);
      return;
    }
    this.room(n);
    this.pos += this.buf.write(s, this.pos, n, 'latin1');
  }

  /** A JSON string value, exactly as JSON.stringify(s) writes it. */
  str(s: string): void {
    const n = s.length;
    let plain = n < 4096;
    for (let i = 0; plain && i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x7f || c === Q || c === BS) plain = false;
    }
    if (!plain) {
      this.raw(JSON.stringify(s));
      return;
    }
    this.room(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = Q;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    b[p++] = Q;
    this.pos = p;
  }

  /** A number as `${n}` writes it; integers of up to 15 digits without a string. */
  num(n: number): void {
    if ((n | 0) === n && n >= 0) {
      // The common case: a small non-negative integer (-0 writes "0", as `${-0}`).
      if (this.pos + 10 > this.buf.length) this.room(10);
      if (n < 10) {
        this.buf[this.pos++] = 0x30 + n;
        return;
      }
      this.digits(n, 1);
      return;
    }
    this.numSlow(n);
  }

  private numSlow(n: number): void {
    if (!Number.isInteger(n) || n > 999_999_999_999_999 || n < -999_999_999_999_999) {
      this.raw(String(n));
      return;
    }
    this.room(16);
    if (n < 0) {
      this.buf[this.pos++] = 0x2d;
      n = -n;
    }
    this.digits(n, 1);
  }

  /** Epoch seconds with exactly six decimals (as tsText). */
  ts(t: number): void {
    let sec = Math.floor(t);
    let usec = Math.round((t - sec) * 1e6);
    if (usec >= 1e6) {
      sec += 1;
      usec -= 1e6;
    }
    if (!(sec >= 0 && sec <= 999_999_999_999)) {
      this.raw(`${sec}.${String(usec + 1e6).slice(1)}`);
      return;
    }
    this.room(24);
    this.digits(sec, 1);
    this.buf[this.pos++] = 0x2e;
    this.digits(usec, 6);
  }

  /** Standard base64 (with padding) of b[off, off+len). */
  base64(b: Uint8Array, off: number, len: number): void {
    this.room(((len + 2) / 3) * 4 + 4);
    const o = this.buf;
    let p = this.pos;
    const end = off + len;
    let i = off;
    for (; i + 3 <= end; i += 3) {
      const v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
      o[p++] = B64[v >> 18];
      o[p++] = B64[(v >> 12) & 63];
      o[p++] = B64[(v >> 6) & 63];
      o[p++] = B64[v & 63];
    }
    if (i < end) {
      const two = i + 1 < end;
      const v = (b[i] << 16) | (two ? b[i + 1] << 8 : 0);
      o[p++] = B64[v >> 18];
      o[p++] = B64[(v >> 12) & 63];
      o[p++] = two ? B64[(v >> 6) & 63] : 0x3d;
      o[p++] = 0x3d;
    }
    this.pos = p;
  }

  /** Dotted quad of an IPv4 address word (as ipv4Text). */
  ipv4(w: number): void {
    this.num(w >>> 24);
    this.buf[this.pos++] = 0x2e; // num() left room for 10 more bytes
    this.num((w >>> 16) & 255);
    this.buf[this.pos++] = 0x2e;
    this.num((w >>> 8) & 255);
    this.buf[this.pos++] = 0x2e;
    this.num(w & 255);
  }

  /** Non-negative integer n, at least `min` digits (zero-padded). Room is the caller's. */
  private digits(n: number, min: number): void {
    const b = this.buf;
    if (n <= 0x7fffffff) {
      let len = 1;
      for (let t = n; t >= 10; t = (t / 10) | 0) len++;
      if (len < min) len = min;
      let p = this.pos + len;
      this.pos = p;
      for (let i = 0; i < len; i++) {
        const q = (n / 10) | 0;
        b[--p] = 0x30 + n - q * 10;
        n = q;
      }
      return;
    }
    let len = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
    if (len < min) len = min;
    let p = this.pos + len;
    this.pos = p;
    for (let i = 0; i < len; i++) {
      const q = Math.floor(n / 10);
      b[--p] = 0x30 + n - q * 10;
      n = q;
    }
  }
}

const scratch = new JsonOut(null);

/** Renders one value with a byte serializer, as a string (for records held
 *  in memory or built outside the hot path). */
export function jsonText<T>(write: (o: JsonOut, v: T) => void, v: T): string {
  scratch.begin();
  write(scratch, v);
  return scratch.text();
}

/** ASCII text encoded once, for JsonOut.lit. */
export function lit(s: string): Uint8Array {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, control characters included
  if (/[^\x00-\x7f]/.test(s)) throw new Error(`lit: not ASCII: ${s}`);
  return new Uint8Array(Buffer.from(s, 'latin1'));
}
