// Minimal capture I/O for the bench: a whole-file reader for classic pcap and
// pcapng (independent of src/capture, so a reader bug cannot skew the input the
// reader is measured on) and a streaming classic-pcap writer for captures of
// hundreds of MB (tools/pcapgen's writers build the file in memory).
import { closeSync, openSync, writeSync } from 'node:fs';

export interface SrcPacket {
  linktype: number;
  /** Microseconds since the epoch (fits a double exactly until year 2255). */
  tsUs: number;
  origLen: number;
  data: Buffer;
}

export interface ReadOutcome {
  packets: SrcPacket[];
  /** Why reading stopped early (damage), or null. */
  damage: string | null;
}

/** All records of a pcap or pcapng file held in `buf`; stops at the first damage. */
export function readCaptureBuffer(buf: Buffer): ReadOutcome {
  if (buf.length < 4) return { packets: [], damage: 'too short' };
  const m = buf.readUInt32LE(0);
  if (m === 0x0a0d0d0a) return readPcapng(buf);
  return readPcap(buf);
}

function readPcap(b: Buffer): ReadOutcome {
  const out: SrcPacket[] = [];
  const mLE = b.readUInt32LE(0);
  let le: boolean;
  let recHdr = 16;
  if (mLE === 0xa1b2c3d4 || mLE === 0xa1b23c4d || mLE === 0xa1b2cd34) le = true;
  else if (b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d || b.readUInt32BE(0) === 0xa1b2cd34) le = false;
  else return { packets: out, damage: 'not a capture' };
  const magic = le ? mLE : b.readUInt32BE(0);
  const nanos = magic === 0xa1b23c4d;
  if (magic === 0xa1b2cd34) recHdr = 24;
  if (b.length < 24) return { packets: out, damage: 'short header' };
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const snaplen = u32(16);
  const linktype = u32(20) & 0x0fffffff;
  const limit = Math.max(snaplen, 262144);
  let p = 24;
  while (p + recHdr <= b.length) {
    const sec = u32(p);
    const frac = u32(p + 4);
    const incl = u32(p + 8);
    const orig = u32(p + 12);
    if (incl > limit) return { packets: out, damage: `record length ${incl} at offset ${p}` };
    if (p + recHdr + incl > b.length) return { packets: out, damage: `truncated record at offset ${p}` };
    const tsUs = sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac);
    out.push({ linktype, tsUs, origLen: Math.max(orig, incl), data: b.subarray(p + recHdr, p + recHdr + incl) });
    p += recHdr + incl;
  }
  return { packets: out, damage: p === b.length ? null : `trailing ${b.length - p} bytes` };
}

interface Iface {
  linktype: number;
  snaplen: number;
  unitsPerSec: number;
  tsOffsetSec: number;
}

function readPcapng(b: Buffer): ReadOutcome {
  const out: SrcPacket[] = [];
  let le = true;
  let ifaces: Iface[] = [];
  let lastTs = 0;
  let p = 0;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  while (p + 12 <= b.length) {
    if (b.readUInt32LE(p) === 0x0a0d0d0a) {
      const bom = b.readUInt32LE(p + 8);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return { packets: out, damage: `bad byte-order magic at ${p}` };
      ifaces = [];
    }
    const type = u32(p);
    const len = u32(p + 4);
    if (len < 12 || len % 4 !== 0 || p + len > b.length) return { packets: out, damage: `bad block length ${len} at offset ${p}` };
    const body = p + 8;
    const bodyEnd = p + len - 4;
    if (type === 1) {
      const ifc: Iface = { linktype: u16(body), snaplen: u32(body + 4), unitsPerSec: 1e6, tsOffsetSec: 0 };
      let o = body + 8;
      while (o + 4 <= bodyEnd) {
        const code = u16(o);
        const olen = u16(o + 2);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const r = b[o + 4]!;
          ifc.unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** (r & 0x7f);
        } else if (code === 14 && olen >= 8) {
          ifc.tsOffsetSec = Number(le ? b.readBigInt64LE(o + 4) : b.readBigInt64BE(o + 4));
        }
        o += 4 + ((olen + 3) & ~3);
      }
      ifaces.push(ifc);
    } else if (type === 6 || type === 2) {
      const ifId = type === 6 ? u32(body) : u16(body);
      const ifc = ifaces[ifId];
      if (ifc === undefined) return { packets: out, damage: `packet on unknown interface ${ifId} at ${p}` };
      const hi = u32(body + 4);
      const lo = u32(body + 8);
      const cap = u32(body + 12);
      const orig = u32(body + 16);
      if (body + 20 + cap > bodyEnd) return { packets: out, damage: `captured length ${cap} beyond block at ${p}` };
      const units = hi * 4294967296 + lo;
      const sec = Math.floor(units / ifc.unitsPerSec);
      const rem = units - sec * ifc.unitsPerSec;
      lastTs = (sec + ifc.tsOffsetSec) * 1e6 + Math.floor((rem * 1e6) / ifc.unitsPerSec);
      out.push({ linktype: ifc.linktype, tsUs: lastTs, origLen: Math.max(orig, cap), data: b.subarray(body + 20, body + 20 + cap) });
    } else if (type === 3) {
      const ifc = ifaces[0];
      if (ifc === undefined) return { packets: out, damage: `simple packet block before an interface at ${p}` };
      const orig = u32(body);
      const cap = Math.min(orig, ifc.snaplen > 0 ? ifc.snaplen : orig, bodyEnd - body - 4);
      out.push({ linktype: ifc.linktype, tsUs: lastTs, origLen: orig, data: b.subarray(body + 4, body + 4 + cap) });
    }
    p += len;
  }
  return { packets: out, damage: p === b.length ? null : `trailing ${b.length - p} bytes` };
}

/** Streams classic pcap records (µs, little-endian) to a file through one large buffer.
 *  Callers may reserve space with `reserve` and write the frame in place. */
export class PcapStreamWriter {
  private readonly fd: number;
  private readonly buf: Buffer;
  private pos = 0;
  packets = 0;
  bytes = 24;

  constructor(path: string, linktype = 1, snaplen = 262144, bufSize = 8 << 20) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(bufSize);
    const h = this.buf;
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8);
    h.writeUInt32LE(0, 12);
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(linktype, 20);
    this.pos = 24;
  }

  /** Writes a record header for `capLen` bytes and returns the buffer and offset
   *  where the caller must put exactly `capLen` bytes of frame. */
  reserve(tsUs: number, capLen: number, origLen: number): [Buffer, number] {
    if (this.pos + 16 + capLen > this.buf.length) this.flush();
    const b = this.buf;
    const sec = Math.floor(tsUs / 1e6);
    b.writeUInt32LE(sec >>> 0, this.pos);
    b.writeUInt32LE(tsUs - sec * 1e6, this.pos + 4);
    b.writeUInt32LE(capLen, this.pos + 8);
    b.writeUInt32LE(Math.max(origLen, capLen), this.pos + 12);
    const at = this.pos + 16;
    this.pos = at + capLen;
    this.packets++;
    this.bytes += 16 + capLen;
    return [b, at];
  }

  write(tsUs: number, frame: Uint8Array, origLen = frame.length): void {
    const [b, at] = this.reserve(tsUs, frame.length, origLen);
    b.set(frame, at);
  }

  private flush(): void {
    let o = 0;
    while (o < this.pos) o += writeSync(this.fd, this.buf, o, this.pos - o);
    this.pos = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
