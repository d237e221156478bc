// Push parser for classic pcap (µs, ns, both byte orders) and pcapng.
// The format comes from the magic bytes, never from the file name.
//
// parse() walks every complete record in the bytes it is given, calls the
// handler with one reused RawPacket, and returns where it stopped; the caller
// keeps the rest and calls again with more. Damage throws a CaptureError after
// every good record before it has been delivered.
import { CaptureError, MAX_CAPLEN, RawPacket, type PacketHandler } from './raw-packet.js';
import { u16, u32 } from './bytes.js';

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAP_KUZNETZOV = 0xa1b2cd34; // "modified pcap": 8 extra bytes per record header
const NG_SHB = 0x0a0d0d0a;
const NG_BOM = 0x1a2b3c4d;
const NG_IDB = 1;
const NG_PB = 2; // obsolete Packet Block
const NG_SPB = 3;
const NG_EPB = 6;

/** The largest pcapng block we buffer whole; readers use larger chunks. */
export const MAX_BLOCK = MAX_CAPLEN + 65536;

type Format = 'unknown' | 'pcap' | 'pcapng';

export interface NgIface {
  linktype: number;
  snaplen: number;
  /** Timestamp units per second (10^n or 2^n). */
  unitsPerSec: number;
  /** Multiplier from a remainder in units to nanoseconds, when exact. */
  nsPerUnit: number;
  tsOffset: number;
}

export class CaptureParser {
  private format: Format = 'unknown';
  private le = true;
  private nanos = false;
  private recHdr = 16;
  private snaplen = 0;
  private linktype = 0;
  private ifaces: NgIface[] = [];
  private readonly pkt = new RawPacket();
  /** A DataView on the buffer being parsed: getUint32 compiles to one load,
   *  where four byte reads and shifts did not (the reader alternates
   *  between two buffers, so the view is rebuilt only when it changes). */
  private view: DataView | null = null;
  /** Packets delivered so far. */
  packets = 0;

  constructor(
    readonly name: string,
    private readonly onPacket: PacketHandler,
  ) {}

  get formatName(): string {
    if (this.format === 'pcap') return `pcap (${this.le ? 'LE' : 'BE'}, ${this.nanos ? 'ns' : 'µs'})`;
    return this.format;
  }

  /** Parses records in buf[start, end); `base` is the stream offset of buf[0].
   *  Returns the index of the first byte not consumed. */
  parse(buf: Buffer, start: number, end: number, base: number): number {
    let p = start;
    if (this.format === 'unknown') {
      if (end - p < 4) return p;
      p = this.header(buf, p, end, base);
      if (this.format === 'unknown') return p; // need more bytes for the header
    }
    return this.format === 'pcap' ? this.pcapRecords(buf, p, end, base) : this.ngBlocks(buf, p, end, base);
  }

  /** Called at end of input with the number of bytes left unconsumed. */
  finish(leftover: number, offset: number): void {
    if (this.format === 'unknown') {
      throw new CaptureError(this.name, 0, leftover === 0 ? 'empty input: no capture header' : 'input too short for a capture header');
    }
    if (leftover > 0)
      throw new CaptureError(this.name, offset, `truncated ${this.format === 'pcap' ? 'record' : 'block'} (${leftover} bytes left)`);
  }

  private header(b: Buffer, p: number, end: number, base: number): number {
    const m = u32(b, p, true);
    if (m === NG_SHB) {
      this.format = 'pcapng';
      return p; // the SHB is parsed as a block
    }
    let le: boolean;
    const mBE = u32(b, p, false);
    if (m === PCAP_US || m === PCAP_NS || m === PCAP_KUZNETZOV) le = true;
    else if (mBE === PCAP_US || mBE === PCAP_NS || mBE === PCAP_KUZNETZOV) le = false;
    else throw new CaptureError(this.name, base + p, `not a pcap or pcapng file (magic 0x${mBE.toString(16).padStart(8, '0')})`);
    if (end - p < 24) return p;
    const magic = le ? m : mBE;
    this.le = le;
    this.nanos = magic === PCAP_NS;
    this.recHdr = magic === PCAP_KUZNETZOV ? 24 : 16;
    this.snaplen = u32(b, p + 16, le);
    this.linktype = u32(b, p + 20, le) & 0xffff; // upper bits may carry FCS info
    this.format = 'pcap';
    return p + 24;
  }

  private viewOf(b: Buffer): DataView {
    const dv = this.view;
    if (dv !== null && dv.buffer === b.buffer && dv.byteOffset === b.byteOffset && dv.byteLength === b.length) return dv;
    return (this.view = new DataView(b.buffer, b.byteOffset, b.length));
  }

  private pcapRecords(b: Buffer, p: number, end: number, base: number): number {
    const le = this.le;
    const hdr = this.recHdr;
    const limit = this.snaplen > 0 && this.snaplen < MAX_CAPLEN ? this.snaplen : MAX_CAPLEN;
    const pkt = this.pkt;
    pkt.buf = b;
    pkt.linktype = this.linktype;
    pkt.ifIndex = 0;
    const fracScale = this.nanos ? 1 : 1000;
    const dv = this.viewOf(b);
    while (end - p >= hdr) {
      const caplen = dv.getUint32(p + 8, le);
      if (caplen > limit) {
        throw new CaptureError(
          this.name,
          base + p,
          `record length ${caplen} exceeds ${caplen > MAX_CAPLEN ? 'the 256 KiB limit' : `snaplen ${this.snaplen}`}`,
        );
      }
      if (end - p < hdr + caplen) break;
      const sec = dv.getUint32(p, le);
      const frac = dv.getUint32(p + 4, le);
      const nsec = frac * fracScale;
      if (nsec >= 1e9) throw new CaptureError(this.name, base + p, `bad timestamp fraction ${frac}`);
      pkt.ts = sec + Math.floor(nsec / 1000) / 1e6;
      pkt.tsNsec = nsec;
      pkt.caplen = caplen;
      const orig = dv.getUint32(p + 12, le);
      pkt.origlen = orig < caplen ? caplen : orig;
      pkt.off = p + hdr;
      pkt.fileOffset = base + p;
      this.packets++;
      this.onPacket(pkt);
      p += hdr + caplen;
    }
    return p;
  }

  // One DataView per call (per chunk), as in pcapRecords: building or even
  // checking it per block, with byte-wise reads for the header, made a pcapng
  // file ten times slower to parse than the same packets in pcap.
  private ngBlocks(b: Buffer, p: number, end: number, base: number): number {
    const dv = this.viewOf(b);
    while (end - p >= 12) {
      const first = dv.getUint32(p, true);
      let type: number;
      if (first === NG_SHB) {
        type = NG_SHB;
        const bom = dv.getUint32(p + 8, true);
        if (bom === NG_BOM) this.le = true;
        else if (dv.getUint32(p + 8, false) === NG_BOM) this.le = false;
        else throw new CaptureError(this.name, base + p, 'pcapng section header with a bad byte-order magic');
      } else {
        type = this.le ? first : dv.getUint32(p, false);
      }
      const le = this.le;
      const len = dv.getUint32(p + 4, le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        throw new CaptureError(this.name, base + p, `bad pcapng block length ${len}`);
      }
      if (end - p < len) break;
      if (dv.getUint32(p + len - 4, le) !== len) {
        throw new CaptureError(this.name, base + p, `pcapng block length ${len} does not match its trailer`);
      }
      switch (type) {
        case NG_EPB:
          this.epb(b, dv, p, len, base, false);
          break;
        case NG_SHB:
          this.ifaces.length = 0;
          break;
        case NG_IDB:
          this.idb(b, p, len, base);
          break;
        case NG_PB:
          this.epb(b, dv, p, len, base, true);
          break;
        case NG_SPB:
          this.spb(b, p, len, base);
          break;
        default:
          break; // NRB, ISB, DSB, custom and unknown blocks carry no packets
      }
      p += len;
    }
    return p;
  }

  private idb(b: Buffer, p: number, len: number, base: number): void {
    const le = this.le;
    if (len < 20) throw new CaptureError(this.name, base + p, 'pcapng interface block too short');
    const iface: NgIface = { linktype: u16(b, p + 8, le), snaplen: u32(b, p + 12, le), unitsPerSec: 1e6, nsPerUnit: 1000, tsOffset: 0 };
    let o = p + 16;
    const optEnd = p + len - 4;
    while (optEnd - o >= 4) {
      const code = u16(b, o, le);
      const olen = u16(b, o + 2, le);
      if (code === 0) break;
      if (o + 4 + olen > optEnd) throw new CaptureError(this.name, base + o, 'pcapng option overruns its block');
      if (code === 9 && olen >= 1) {
        const r = b[o + 4];
        const n = r & 0x7f;
        if (r & 0x80) {
          if (n > 60) throw new CaptureError(this.name, base + o, `unsupported if_tsresol 2^-${n}`);
          iface.unitsPerSec = 2 ** n;
          iface.nsPerUnit = 0;
        } else {
          if (n > 15) throw new CaptureError(this.name, base + o, `unsupported if_tsresol 10^-${n}`);
          iface.unitsPerSec = 10 ** n;
          iface.nsPerUnit = n <= 9 ? 10 ** (9 - n) : 0;
        }
      } else if (code === 14 && olen >= 8) {
        const lo = u32(b, o + 4, le);
        const hi = u32(b, o + 8, le);
        iface.tsOffset = le ? (hi | 0) * 4294967296 + lo : (lo | 0) * 4294967296 + hi;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  /** `dv` views `b`; the block is whole (ngBlocks checked its length). */
  private epb(b: Buffer, dv: DataView, p: number, len: number, base: number, obsolete: boolean): void {
    const le = this.le;
    if (len < 32) throw new CaptureError(this.name, base + p, 'pcapng packet block too short');
    const ifIndex = obsolete ? dv.getUint16(p + 8, le) : dv.getUint32(p + 8, le);
    const iface = this.ifaces[ifIndex];
    if (iface === undefined) throw new CaptureError(this.name, base + p, `packet for undeclared interface ${ifIndex}`);
    const caplen = dv.getUint32(p + 20, le);
    if (caplen > len - 32 || caplen > MAX_CAPLEN) {
      throw new CaptureError(this.name, base + p, `captured length ${caplen} does not fit its ${len}-byte block`);
    }
    const pkt = this.pkt;
    ngTime(dv.getUint32(p + 12, le), dv.getUint32(p + 16, le), iface, pkt);
    pkt.buf = b;
    pkt.off = p + 28;
    pkt.caplen = caplen;
    const orig = dv.getUint32(p + 24, le);
    pkt.origlen = orig < caplen ? caplen : orig;
    pkt.linktype = iface.linktype;
    pkt.ifIndex = ifIndex;
    pkt.fileOffset = base + p;
    this.packets++;
    this.onPacket(pkt);
  }

  private spb(b: Buffer, p: number, len: number, base: number): void {
    const iface = this.ifaces[0];
    if (iface === undefined) throw new CaptureError(this.name, base + p, 'simple packet block before any interface');
    if (len < 16) throw new CaptureError(this.name, base + p, 'pcapng simple packet block too short');
    const orig = u32(b, p + 8, this.le);
    let caplen = len - 16;
    if (orig < caplen) caplen = orig;
    if (iface.snaplen > 0 && iface.snaplen < caplen) caplen = iface.snaplen;
    const pkt = this.pkt;
    // SPBs carry no timestamp: keep the previous packet's time.
    pkt.buf = b;
    pkt.off = p + 12;
    pkt.caplen = caplen;
    pkt.origlen = orig < caplen ? caplen : orig;
    pkt.linktype = iface.linktype;
    pkt.ifIndex = 0;
    pkt.fileOffset = base + p;
    this.packets++;
    this.onPacket(pkt);
  }
}

/** Sets out.ts and out.tsNsec from a pcapng timestamp: a 64-bit count
 *  (hi, lo) of the interface's units since the epoch, exactly. */
export function ngTime(hi: number, lo: number, iface: NgIface, out: RawPacket): void {
  const u = iface.unitsPerSec;
  let sec: number;
  let rem: number;
  if (hi < 0x1fffff && u <= 1073741824) {
    // Below 2^53 - 2^32 the count is an exact double (any µs timestamp until
    // the year 2255): one division, whose rounding (under half an ulp, less
    // than 1/u) cannot reach the next integer; the exact remainder guards it.
    const t = hi * 4294967296 + lo;
    sec = Math.floor(t / u);
    rem = t - sec * u;
    if (rem < 0) {
      sec--;
      rem += u;
    } else if (rem >= u) {
      sec++;
      rem -= u;
    }
  } else if (u <= 1073741824) {
    // Long division in 16-bit limbs keeps every intermediate below 2^53.
    let r = hi >>> 16;
    let q = Math.floor(r / u);
    r -= q * u;
    sec = q;
    r = r * 65536 + (hi & 0xffff);
    q = Math.floor(r / u);
    r -= q * u;
    sec = sec * 65536 + q;
    r = r * 65536 + (lo >>> 16);
    q = Math.floor(r / u);
    r -= q * u;
    sec = sec * 65536 + q;
    r = r * 65536 + (lo & 0xffff);
    q = Math.floor(r / u);
    r -= q * u;
    sec = sec * 65536 + q;
    rem = r;
  } else {
    // Resolutions finer than 2^-30 s (10^-10 and below, 2^-31 and below):
    // rare, and the nanoseconds of a remainder that large need BigInt too.
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const U = BigInt(u);
    sec = Number(t / U) + iface.tsOffset;
    const nsec = Number(((t % U) * 1_000_000_000n) / U);
    out.ts = sec + Math.floor(nsec / 1000) / 1e6;
    out.tsNsec = nsec;
    return;
  }
  // Exact: rem < u <= 2^30, and rem * 1e9 is rem * 1953125 (< 2^51) * 2^9.
  const nsec = iface.nsPerUnit > 0 ? rem * iface.nsPerUnit : Math.floor((rem * 1e9) / u);
  sec += iface.tsOffset;
  out.ts = sec + Math.floor(nsec / 1000) / 1e6;
  out.tsNsec = nsec;
}
