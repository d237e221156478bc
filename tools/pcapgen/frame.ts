// Builds link-layer frames carrying one IPv4/IPv6 TCP or UDP packet, with
// correct IPv4 header and TCP/UDP checksums, for tests, fixtures and the bench.
import { parseIp } from '../../src/flows/community-id.js';

export type Link = 'ether' | 'sll' | 'sll2' | 'null' | 'null-be' | 'raw' | 'raw4' | 'raw6';

export interface FrameSpec {
  link?: Link; // default 'ether'
  /** Outermost first; tpid default 0x8100 (QinQ outer: 0x88a8 or 0x9100). */
  vlans?: { tpid?: number; id: number; pcp?: number }[];
  src: string;
  dst: string; // IPv4 dotted or IPv6 text (family from text)
  proto: 'tcp' | 'udp';
  sport: number;
  dport: number;
  tcp?: {
    seq?: number;
    ack?: number;
    /** Letters F S R P A U E C, e.g. 'S', 'SA', 'A', 'PA', 'FA', 'R', 'RA'. Default 'PA'. */
    flags?: string;
    window?: number;
    /** Raw TCP options, zero-padded to 4 bytes. */
    options?: Uint8Array;
  };
  payload?: Uint8Array;
  /** Extension headers inserted before TCP/UDP: 0 hop-by-hop, 60 destination options, 44 fragment (atomic). */
  ipv6ExtHeaders?: number[];
  /** Raw IPv4 options, zero-padded (EOL) to 4 bytes; at most 40 bytes. */
  ipv4Options?: Uint8Array;
  ttl?: number; // default 64
  ipId?: number; // default 0
  /** Ethernet/SLL source and destination MACs; default 02:00 + last 4 address bytes. */
  srcMac?: string;
  dstMac?: string;
  /** Pad Ethernet frames to the 60-byte minimum, as a receiving NIC delivers them. */
  ethPad?: boolean;
  /** DLT_NULL address family for IPv6: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS, default). */
  nullAf6?: 24 | 28 | 30;
  /** SLL/SLL2 packet type: 0 to us (default), 4 outgoing. */
  sllPktType?: number;
  /** SLL2 interface index, default 1. */
  sllIfIndex?: number;
  /** Corrupt the TCP/UDP checksum (xor 0xffff) to test checksum handling. */
  badChecksum?: boolean;
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

const LINKTYPES: Record<Link, number> = {
  ether: 1,
  null: 0,
  'null-be': 0,
  raw: 101,
  raw4: 228,
  raw6: 229,
  sll: 113,
  sll2: 276,
};

/** pcap/pcapng LINKTYPE_ number for a link. */
export function linktypeOf(link: Link): number {
  return LINKTYPES[link];
}

const TCP_FLAG_BITS: Record<string, number> = {
  F: 0x01,
  S: 0x02,
  R: 0x04,
  P: 0x08,
  A: 0x10,
  U: 0x20,
  E: 0x40,
  C: 0x80,
};

export function tcpFlagBits(flags: string): number {
  let bits = 0;
  for (const ch of flags) {
    const b = TCP_FLAG_BITS[ch];
    if (b === undefined) throw new Error(`unknown TCP flag ${JSON.stringify(ch)} in ${JSON.stringify(flags)}`);
    bits |= b;
  }
  return bits;
}

export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`not a MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** Locally administered MAC 02:00:a:b:c:d from the last 4 bytes of an address. */
export function macFor(ip: Uint8Array): Uint8Array {
  const m = new Uint8Array(6);
  m[0] = 0x02;
  m.set(ip.subarray(ip.length - 4), 2);
  return m;
}

/** Ones' complement sum of `data` folded to 16 bits, starting from `init`. */
function onesSum(data: Uint8Array, init = 0): number {
  let sum = init;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function internetChecksum(data: Uint8Array, init = 0): number {
  return ~onesSum(data, init) & 0xffff;
}

function pad4(b: Uint8Array | undefined): Buffer {
  if (!b || b.length === 0) return Buffer.alloc(0);
  const out = Buffer.alloc((b.length + 3) & ~3);
  out.set(b);
  return out;
}

function buildL4(spec: FrameSpec, src: Uint8Array, dst: Uint8Array): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const protoNum = spec.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  let seg: Buffer;
  let ckOff: number;
  if (spec.proto === 'tcp') {
    const t = spec.tcp ?? {};
    const opts = pad4(t.options);
    if (opts.length > 40) throw new Error('TCP options longer than 40 bytes');
    const hlen = 20 + opts.length;
    seg = Buffer.alloc(hlen + payload.length);
    seg.writeUInt16BE(spec.sport, 0);
    seg.writeUInt16BE(spec.dport, 2);
    const flags = tcpFlagBits(t.flags ?? 'PA');
    seg.writeUInt32BE((t.seq ?? 0) >>> 0, 4);
    seg.writeUInt32BE(flags & 0x10 ? (t.ack ?? 0) >>> 0 : 0, 8);
    seg[12] = (hlen / 4) << 4;
    seg[13] = flags;
    seg.writeUInt16BE(t.window ?? 65535, 14);
    opts.copy(seg, 20);
    seg.set(payload, hlen);
    ckOff = 16;
  } else {
    seg = Buffer.alloc(8 + payload.length);
    seg.writeUInt16BE(spec.sport, 0);
    seg.writeUInt16BE(spec.dport, 2);
    seg.writeUInt16BE(seg.length, 4);
    seg.set(payload, 8);
    ckOff = 6;
  }
  // Pseudo-header: addresses, upper-layer length and protocol.
  const pseudo = Buffer.alloc(src.length * 2 + 8);
  pseudo.set(src, 0);
  pseudo.set(dst, src.length);
  if (src.length === 4) {
    pseudo[9] = protoNum;
    pseudo.writeUInt16BE(seg.length, 10);
  } else {
    pseudo.writeUInt32BE(seg.length, 32);
    pseudo[39] = protoNum;
  }
  const pseudoLen = src.length === 4 ? 12 : 40;
  let ck = internetChecksum(seg, onesSum(pseudo.subarray(0, pseudoLen)));
  if (spec.proto === 'udp' && ck === 0) ck = 0xffff; // 0 means "no checksum" in UDP
  if (spec.badChecksum) ck ^= 0xffff;
  seg.writeUInt16BE(ck, ckOff);
  return seg;
}

function buildIpv4(spec: FrameSpec, src: Uint8Array, dst: Uint8Array, l4: Buffer): Buffer {
  const opts = pad4(spec.ipv4Options);
  if (opts.length > 40) throw new Error('IPv4 options longer than 40 bytes');
  const hlen = 20 + opts.length;
  const pkt = Buffer.alloc(hlen + l4.length);
  pkt[0] = 0x40 | (hlen / 4);
  pkt.writeUInt16BE(pkt.length, 2);
  pkt.writeUInt16BE((spec.ipId ?? 0) & 0xffff, 4);
  pkt.writeUInt16BE(0x4000, 6); // DF, offset 0
  pkt[8] = spec.ttl ?? 64;
  pkt[9] = spec.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  pkt.set(src, 12);
  pkt.set(dst, 16);
  opts.copy(pkt, 20);
  pkt.writeUInt16BE(internetChecksum(pkt.subarray(0, hlen)), 10);
  l4.copy(pkt, hlen);
  return pkt;
}

function buildIpv6(spec: FrameSpec, src: Uint8Array, dst: Uint8Array, l4: Buffer): Buffer {
  const exts = spec.ipv6ExtHeaders ?? [];
  const extLen = exts.length * 8;
  const pkt = Buffer.alloc(40 + extLen + l4.length);
  pkt.writeUInt32BE(0x60000000, 0);
  pkt.writeUInt16BE(extLen + l4.length, 4);
  const upper = spec.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  pkt[6] = exts[0] ?? upper;
  pkt[7] = spec.ttl ?? 64;
  pkt.set(src, 8);
  pkt.set(dst, 24);
  for (let i = 0; i < exts.length; i++) {
    const o = 40 + i * 8;
    const type = exts[i]!;
    pkt[o] = exts[i + 1] ?? upper;
    switch (type) {
      case 0: // hop-by-hop
      case 60: // destination options: one PadN option filling the 6 bytes
        pkt[o + 1] = 0;
        pkt[o + 2] = 1;
        pkt[o + 3] = 4;
        break;
      case 44: // fragment header with offset 0 and M=0: an "atomic fragment" (RFC 6946)
        pkt.writeUInt32BE(0x0000abcd, o + 4);
        break;
      default:
        throw new Error(`unsupported IPv6 extension header ${type}`);
    }
  }
  l4.copy(pkt, 40 + extLen);
  return pkt;
}

function ipPacket(spec: FrameSpec, src: Uint8Array, dst: Uint8Array): Buffer {
  if (src.length !== dst.length) throw new Error(`address families differ: ${spec.src} ${spec.dst}`);
  const l4 = buildL4(spec, src, dst);
  return src.length === 4 ? buildIpv4(spec, src, dst, l4) : buildIpv6(spec, src, dst, l4);
}

/** The IP packet (no link header) described by `spec`. */
export function buildIpPacket(spec: FrameSpec): Buffer {
  return ipPacket(spec, parseIp(spec.src), parseIp(spec.dst));
}

function vlanTags(vlans: NonNullable<FrameSpec['vlans']>, innerType: number): Buffer {
  // Each tag: this tag's TPID was written by the previous field; here TCI then next type.
  const out = Buffer.alloc(vlans.length * 4);
  for (let i = 0; i < vlans.length; i++) {
    const v = vlans[i]!;
    out.writeUInt16BE((((v.pcp ?? 0) & 7) << 13) | (v.id & 0x0fff), i * 4);
    out.writeUInt16BE(i + 1 < vlans.length ? (vlans[i + 1]!.tpid ?? ETHERTYPE_VLAN) : innerType, i * 4 + 2);
  }
  return out;
}

/** A full link-layer frame for `spec`. */
export function buildFrame(spec: FrameSpec): Buffer {
  const srcIp = parseIp(spec.src);
  const dstIp = parseIp(spec.dst);
  const ip = ipPacket(spec, srcIp, dstIp);
  const v6 = srcIp.length === 16;
  const ethType = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  const link = spec.link ?? 'ether';
  const vlans = spec.vlans ?? [];
  if (vlans.length > 0 && link !== 'ether' && link !== 'sll' && link !== 'sll2') {
    throw new Error(`VLAN tags need an ether, sll or sll2 link, not ${link}`);
  }
  // Protocol field of the link header: the first tag's TPID or the IP ethertype.
  const firstType = vlans.length > 0 ? (vlans[0]!.tpid ?? ETHERTYPE_VLAN) : ethType;
  const tags = vlanTags(vlans, ethType);
  const srcMac = spec.srcMac ? parseMac(spec.srcMac) : macFor(srcIp);
  const dstMac = spec.dstMac ? parseMac(spec.dstMac) : macFor(dstIp);

  switch (link) {
    case 'ether': {
      const len = 14 + tags.length + ip.length;
      const f = Buffer.alloc(spec.ethPad ? Math.max(60, len) : len);
      f.set(dstMac, 0);
      f.set(srcMac, 6);
      f.writeUInt16BE(firstType, 12);
      tags.copy(f, 14);
      ip.copy(f, 14 + tags.length);
      return f;
    }
    case 'sll': {
      // Linux cooked v1: pkttype, ARPHRD, addr len, addr[8], protocol.
      const f = Buffer.alloc(16 + tags.length + ip.length);
      f.writeUInt16BE(spec.sllPktType ?? 0, 0);
      f.writeUInt16BE(1, 2); // ARPHRD_ETHER
      f.writeUInt16BE(6, 4);
      f.set(srcMac, 6);
      f.writeUInt16BE(firstType, 14);
      tags.copy(f, 16);
      ip.copy(f, 16 + tags.length);
      return f;
    }
    case 'sll2': {
      // Linux cooked v2: protocol, reserved, ifindex, ARPHRD, pkttype, addr len, addr[8].
      const f = Buffer.alloc(20 + tags.length + ip.length);
      f.writeUInt16BE(firstType, 0);
      f.writeUInt32BE(spec.sllIfIndex ?? 1, 4);
      f.writeUInt16BE(1, 8);
      f[10] = spec.sllPktType ?? 0;
      f[11] = 6;
      f.set(srcMac, 12);
      tags.copy(f, 20);
      ip.copy(f, 20 + tags.length);
      return f;
    }
    case 'null':
    case 'null-be': {
      // BSD loopback: address family in the capturing host's byte order.
      const af = v6 ? (spec.nullAf6 ?? 30) : 2;
      const f = Buffer.alloc(4 + ip.length);
      if (link === 'null') f.writeUInt32LE(af, 0);
      else f.writeUInt32BE(af, 0);
      ip.copy(f, 4);
      return f;
    }
    case 'raw':
      return ip;
    case 'raw4':
      if (v6) throw new Error('raw4 link carries IPv4 only');
      return ip;
    case 'raw6':
      if (!v6) throw new Error('raw6 link carries IPv6 only');
      return ip;
  }
}
