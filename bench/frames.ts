// Frame surgery for the bench captures: every source frame becomes an Ethernet
// frame (one classic pcap holds one link type), and copies get their IP
// addresses and client ports rewritten with incrementally updated IPv4 header
// and TCP/UDP/ICMPv6 checksums (RFC 1624), so they stay as valid (or as
// broken) as the original, even for frames cut short by the snaplen.

/** Where the layers of an Ethernet frame start; -1 when absent or cut off. */
export interface FrameMeta {
  ipOff: number;
  ipVer: 0 | 4 | 6;
  /** 6 TCP, 17 UDP, 58 ICMPv6, other or 0 when not reachable. */
  l4: number;
  l4Off: number;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

function isVlanTpid(t: number): boolean {
  return t === 0x8100 || t === 0x88a8 || t === 0x9100;
}

/** A source frame of `linktype` as an Ethernet frame, or null for link types
 *  the bench does not carry. Returns the frame and the change in length. */
export function toEthernet(linktype: number, data: Buffer): { frame: Buffer; grow: number } | null {
  switch (linktype) {
    case 1:
      return { frame: data, grow: 0 };
    case 0: // BSD loopback, family in host order
    case 108: {
      if (data.length < 5) return null;
      const ip = data.subarray(4);
      return wrapIp(ip, -4);
    }
    case 101:
    case 12:
    case 14:
    case 228:
    case 229:
      return wrapIp(data, 0);
    case 113: {
      if (data.length < 16) return null;
      return wrap(data.readUInt16BE(14), data.subarray(16), -2);
    }
    case 276: {
      if (data.length < 20) return null;
      return wrap(data.readUInt16BE(0), data.subarray(20), -6);
    }
    default:
      return null;
  }
}

function wrapIp(ip: Buffer, grow: number): { frame: Buffer; grow: number } | null {
  if (ip.length < 1) return null;
  const v = ip[0]! >> 4;
  if (v !== 4 && v !== 6) return null;
  return wrap(v === 4 ? ETH_IPV4 : ETH_IPV6, ip, grow + 14);
}

function wrap(ethertype: number, payload: Buffer, grow: number): { frame: Buffer; grow: number } {
  const f = Buffer.allocUnsafe(14 + payload.length);
  // Locally administered MACs from the last address bytes, like tools/pcapgen.
  const v = payload.length > 0 ? payload[0]! >> 4 : 0;
  const srcAt = v === 4 ? 12 : v === 6 ? 8 : -1;
  const alen = v === 4 ? 4 : 16;
  f.fill(0, 0, 12);
  f[0] = f[6] = 0x02;
  if (srcAt >= 0 && payload.length >= srcAt + 2 * alen) {
    payload.copy(f, 2, srcAt + 2 * alen - 4, srcAt + 2 * alen); // dst
    payload.copy(f, 8, srcAt + alen - 4, srcAt + alen); // src
  }
  f.writeUInt16BE(ethertype, 12);
  payload.copy(f, 14);
  return { frame: f, grow };
}

/** Layer offsets of an Ethernet frame (VLAN/QinQ tags, IPv4 options, IPv6 extension headers). */
export function analyse(f: Buffer): FrameMeta {
  const m: FrameMeta = { ipOff: -1, ipVer: 0, l4: 0, l4Off: -1 };
  let o = 12;
  if (f.length < 14) return m;
  let et = f.readUInt16BE(o);
  o += 2;
  while (isVlanTpid(et) && o + 4 <= f.length) {
    et = f.readUInt16BE(o + 2);
    o += 4;
  }
  if (et === ETH_IPV4 && o + 20 <= f.length && f[o]! >> 4 === 4) {
    m.ipOff = o;
    m.ipVer = 4;
    const ihl = (f[o]! & 0x0f) * 4;
    const fragOff = f.readUInt16BE(o + 6) & 0x1fff;
    if (ihl >= 20 && fragOff === 0) {
      m.l4 = f[o + 9]!;
      m.l4Off = o + ihl;
    }
  } else if (et === ETH_IPV6 && o + 40 <= f.length && f[o]! >> 4 === 6) {
    m.ipOff = o;
    m.ipVer = 6;
    let nh = f[o + 6]!;
    let p = o + 40;
    for (let i = 0; i < 8; i++) {
      if (nh === 0 || nh === 43 || nh === 60) {
        if (p + 8 > f.length) return m;
        nh = f[p]!;
        p += (f[p + 1]! + 1) * 8;
      } else if (nh === 44) {
        if (p + 8 > f.length) return m;
        if ((f.readUInt16BE(p + 2) & 0xfff8) !== 0) return m; // not the first fragment
        nh = f[p]!;
        p += 8;
      } else break;
    }
    m.l4 = nh;
    m.l4Off = p;
  }
  return m;
}

// Ports a server listens on: never shifted, so dissectors still find their
// protocols and the service side stays the service side.
const SERVICE = new Uint8Array(65536);
for (let p = 0; p < 1024; p++) SERVICE[p] = 1;
for (const p of [
  502, 20000, 2404, 4840, 48010, 1433, 1521, 3306, 3389, 5432, 8080, 8443, 44818, 2222, 47808, 1911, 5353, 5355, 1900, 5060, 5061, 9600,
  18245, 20547, 1089, 1090, 1091, 34962, 34963, 34964, 4000, 2455,
])
  SERVICE[p] = 1;

/** A client (non-service) port moved by `delta` within 1024..65535, skipping service ports. */
export function shiftPort(p: number, delta: number): number {
  if (SERVICE[p] === 1 || delta === 0) return p;
  let q = 1024 + ((p - 1024 + delta) % 64512);
  while (SERVICE[q] === 1) q = q === 65535 ? 1024 : q + 1;
  return q;
}

/** Ones' complement checksum `ck` after 16-bit words `old` became `neu` (RFC 1624 eqn. 3);
 *  `acc` carries the partial sum between calls: start with ~ck & 0xffff. */
function acc16(acc: number, old: number, neu: number): number {
  return acc + (~old & 0xffff) + neu;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/** IPv4 address with octets 2-3 (as one 16-bit number) moved by `d`. */
export function shiftAddr4(a: number, d: number): number {
  return ((a & 0xff0000ff) | (((((a >>> 8) & 0xffff) + d) & 0xffff) << 8)) >>> 0;
}

/** Rewrites the frame at buf[base, base+capLen) in place: IPv4 octets 2-3 (or
 *  IPv6 address bytes 10-11) of both addresses move by `addrDelta`, and client
 *  ports by `portDelta`; checksums follow. Nothing past capLen is touched. */
export function rewriteCopy(buf: Buffer, base: number, capLen: number, m: FrameMeta, addrDelta: number, portDelta: number): void {
  if (m.ipVer === 0) return;
  const end = base + capLen;
  const ip = base + m.ipOff;
  let pseudo = 0; // old/new sums of the pseudo-header words that changed
  if (m.ipVer === 4) {
    const s = buf.readUInt32BE(ip + 12);
    const d = buf.readUInt32BE(ip + 16);
    const s2 = shiftAddr4(s, addrDelta);
    const d2 = shiftAddr4(d, addrDelta);
    buf.writeUInt32BE(s2, ip + 12);
    buf.writeUInt32BE(d2, ip + 16);
    pseudo = acc16(acc16(acc16(acc16(0, s >>> 16, s2 >>> 16), s & 0xffff, s2 & 0xffff), d >>> 16, d2 >>> 16), d & 0xffff, d2 & 0xffff);
    const hc = buf.readUInt16BE(ip + 10);
    buf.writeUInt16BE(fold((~hc & 0xffff) + pseudo), ip + 10);
  } else {
    for (const at of [ip + 8 + 10, ip + 24 + 10]) {
      const w = buf.readUInt16BE(at);
      const w2 = (w + addrDelta) & 0xffff;
      buf.writeUInt16BE(w2, at);
      pseudo = acc16(pseudo, w, w2);
    }
  }
  if (m.l4Off < 0) return;
  const l4 = base + m.l4Off;
  let ckAt = -1;
  let portsChanged = 0;
  if (m.l4 === 6 || m.l4 === 17) {
    if (l4 + 4 > end) return;
    const sp = buf.readUInt16BE(l4);
    const dp = buf.readUInt16BE(l4 + 2);
    const sp2 = shiftPort(sp, portDelta);
    const dp2 = shiftPort(dp, portDelta);
    buf.writeUInt16BE(sp2, l4);
    buf.writeUInt16BE(dp2, l4 + 2);
    portsChanged = acc16(acc16(0, sp, sp2), dp, dp2);
    ckAt = m.l4 === 6 ? l4 + 16 : l4 + 6;
  } else if (m.l4 === 58) {
    ckAt = l4 + 2;
  } else return; // ICMPv4 and others carry no pseudo-header
  if (ckAt + 2 > end) return;
  const ck = buf.readUInt16BE(ckAt);
  if (m.l4 === 17 && ck === 0 && m.ipVer === 4) return; // "no checksum"
  let c2 = fold((~ck & 0xffff) + pseudo + portsChanged);
  if (m.l4 === 17 && c2 === 0) c2 = 0xffff;
  buf.writeUInt16BE(c2, ckAt);
}

/** A canonical flow key for counting distinct flows while building. */
export function flowKey(buf: Buffer, base: number, capLen: number, m: FrameMeta): string | null {
  if (m.ipVer === 0 || (m.l4 !== 6 && m.l4 !== 17) || m.l4Off < 0 || m.l4Off + 4 > capLen) return null;
  const ip = base + m.ipOff;
  const l4 = base + m.l4Off;
  const alen = m.ipVer === 4 ? 4 : 16;
  const sAt = m.ipVer === 4 ? ip + 12 : ip + 8;
  const a = `${buf.toString('hex', sAt, sAt + alen)}:${buf.readUInt16BE(l4)}`;
  const b = `${buf.toString('hex', sAt + alen, sAt + 2 * alen)}:${buf.readUInt16BE(l4 + 2)}`;
  return m.l4 + (a < b ? a + b : b + a);
}
