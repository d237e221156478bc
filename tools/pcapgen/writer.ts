// Writers for classic pcap and pcapng files, in either byte order, plus the raw
// hooks needed to build deliberately damaged captures.

export type Endian = 'le' | 'be';

export interface PcapOptions {
  endian?: Endian; // default 'le'
  nanos?: boolean; // nanosecond timestamps (magic a1b23c4d); default false
  linktype?: number; // default 1 (Ethernet)
  snaplen?: number; // default 262144
}

class ByteSink {
  protected chunks: Buffer[] = [];
  constructor(protected endian: Endian) {}

  protected u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.endian === 'le') b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  }

  protected u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.endian === 'le') b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }

  /** Appends bytes verbatim (for damaged files). */
  addBytes(b: Uint8Array): void {
    this.chunks.push(Buffer.from(b));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export class PcapWriter extends ByteSink {
  readonly nanos: boolean;
  readonly linktype: number;
  readonly snaplen: number;

  constructor(opts: PcapOptions = {}) {
    super(opts.endian ?? 'le');
    this.nanos = opts.nanos ?? false;
    this.linktype = opts.linktype ?? 1;
    this.snaplen = opts.snaplen ?? 262144;
    this.chunks.push(
      this.u32(this.nanos ? 0xa1b23c4d : 0xa1b2c3d4),
      this.u16(2),
      this.u16(4), // version 2.4
      this.u32(0),
      this.u32(0), // thiszone, sigfigs
      this.u32(this.snaplen),
      this.u32(this.linktype),
    );
  }

  /** One record; the frame is cut to the snaplen, `origLen` defaults to the frame length. */
  add(tsSec: number, tsFrac: number, frame: Uint8Array, origLen?: number): void {
    const limit = this.nanos ? 1e9 : 1e6;
    if (!Number.isInteger(tsFrac) || tsFrac < 0 || tsFrac >= limit) {
      throw new RangeError(`timestamp fraction ${tsFrac} out of range for ${this.nanos ? 'ns' : 'µs'}`);
    }
    const incl = Math.min(frame.length, this.snaplen);
    this.addRawRecord(tsSec, tsFrac, incl, Math.max(origLen ?? frame.length, incl), frame.subarray(0, incl));
  }

  /** One record at a nanosecond-precision time, rounded down to µs in a µs file. */
  addAt(sec: number, nsec: number, frame: Uint8Array, origLen?: number): void {
    this.add(sec, this.nanos ? nsec : Math.floor(nsec / 1000), frame, origLen);
  }

  /** A record header with exactly these fields followed by `data`, unchecked (for damaged files). */
  addRawRecord(tsSec: number, tsFrac: number, inclLen: number, origLen: number, data: Uint8Array): void {
    this.chunks.push(this.u32(tsSec), this.u32(tsFrac), this.u32(inclLen), this.u32(origLen), Buffer.from(data));
  }
}

export interface NgInterface {
  linktype: number;
  snaplen?: number; // default 262144
  /** if_tsresol byte: n < 128 means 10^-n s, 0x80|n means 2^-n s; default 6 and then the option is omitted. */
  tsresol?: number;
  name?: string;
}

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_EPB = 0x00000006;

const OPT_ENDOFOPT = 0;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;

interface IfState {
  snaplen: number;
  unitsPerSec: bigint;
}

function unitsPerSecond(tsresol: number): bigint {
  const n = BigInt(tsresol & 0x7f);
  return tsresol & 0x80 ? 1n << n : 10n ** n;
}

export class PcapngWriter extends ByteSink {
  private ifaces: IfState[] = [];

  constructor(opts: { endian?: Endian } = {}) {
    super(opts.endian ?? 'le');
    this.writeShb();
  }

  private option(code: number, value: Uint8Array): Buffer {
    const padded = Buffer.alloc((value.length + 3) & ~3);
    padded.set(value);
    return Buffer.concat([this.u16(code), this.u16(value.length), padded]);
  }

  private endOfOptions(): Buffer {
    return Buffer.concat([this.u16(OPT_ENDOFOPT), this.u16(0)]);
  }

  /** A block with a body padded to 4 bytes and both length fields. */
  addBlock(type: number, body: Uint8Array): void {
    const padded = Buffer.alloc((body.length + 3) & ~3);
    padded.set(body);
    const total = 12 + padded.length;
    this.chunks.push(this.u32(type), this.u32(total), padded, this.u32(total));
  }

  private writeShb(): void {
    const sectionLen = Buffer.alloc(8, 0xff); // -1: not specified
    this.addBlock(
      PCAPNG_SHB,
      Buffer.concat([
        this.u32(0x1a2b3c4d), // byte-order magic, read back in this section's order
        this.u16(1),
        this.u16(0),
        sectionLen,
        this.option(OPT_SHB_USERAPPL, Buffer.from('otwatch pcapgen')),
        this.endOfOptions(),
      ]),
    );
  }

  /** Starts a new section (optionally in the other byte order); interface numbering restarts at 0. */
  addSectionHeader(opts: { endian?: Endian } = {}): void {
    if (opts.endian) this.endian = opts.endian;
    this.ifaces = [];
    this.writeShb();
  }

  /** Adds an Interface Description Block and returns its index in this section. */
  addInterface(i: NgInterface): number {
    const snaplen = i.snaplen ?? 262144;
    const opts: Buffer[] = [];
    if (i.name !== undefined) opts.push(this.option(OPT_IF_NAME, Buffer.from(i.name)));
    if (i.tsresol !== undefined) opts.push(this.option(OPT_IF_TSRESOL, Uint8Array.of(i.tsresol)));
    if (opts.length > 0) opts.push(this.endOfOptions());
    this.addBlock(PCAPNG_IDB, Buffer.concat([this.u16(i.linktype), this.u16(0), this.u32(snaplen), ...opts]));
    this.ifaces.push({ snaplen, unitsPerSec: unitsPerSecond(i.tsresol ?? 6) });
    return this.ifaces.length - 1;
  }

  private iface(ifIndex: number): IfState {
    const s = this.ifaces[ifIndex];
    if (!s) throw new RangeError(`no interface ${ifIndex} in this section`);
    return s;
  }

  /** Enhanced Packet Block; `tsFracInIfUnits` counts the interface's time units within the second. */
  add(ifIndex: number, tsSec: number, tsFracInIfUnits: number, frame: Uint8Array, origLen?: number): void {
    const s = this.iface(ifIndex);
    const ts = BigInt(tsSec) * s.unitsPerSec + BigInt(tsFracInIfUnits);
    const cap = s.snaplen > 0 ? Math.min(frame.length, s.snaplen) : frame.length;
    const hi = Number(ts >> 32n);
    const lo = Number(ts & 0xffffffffn);
    this.addBlock(
      PCAPNG_EPB,
      Buffer.concat([
        this.u32(ifIndex),
        this.u32(hi),
        this.u32(lo),
        this.u32(cap),
        this.u32(Math.max(origLen ?? frame.length, cap)),
        frame.subarray(0, cap),
      ]),
    );
  }

  /** Enhanced Packet Block at a nanosecond-precision time, rounded down to the interface's units. */
  addAt(ifIndex: number, sec: number, nsec: number, frame: Uint8Array, origLen?: number): void {
    const s = this.iface(ifIndex);
    const frac = (BigInt(nsec) * s.unitsPerSec) / 1_000_000_000n;
    this.add(ifIndex, sec, Number(frac), frame, origLen);
  }

  /** Simple Packet Block (interface 0, no timestamp); data is cut to interface 0's snaplen. */
  addSimple(frame: Uint8Array, origLen?: number): void {
    const s = this.iface(0);
    const cap = s.snaplen > 0 ? Math.min(frame.length, s.snaplen) : frame.length;
    this.addBlock(PCAPNG_SPB, Buffer.concat([this.u32(origLen ?? frame.length), frame.subarray(0, cap)]));
  }

  /** A block of a type readers must skip (use a local-use type, bit 31 set). */
  addUnknownBlock(type: number, body: Uint8Array): void {
    this.addBlock(type, body);
  }
}
