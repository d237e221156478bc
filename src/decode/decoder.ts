// Frame → Packet. Every read is bounded by the captured end; a frame cut by
// snaplen decodes as far as it goes and is flagged, never read past.
import { u16be, u16le, u32be } from '../capture/bytes.js';
import { Decoded, type Packet, PROTO_TCP, PROTO_UDP } from './packet.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
// Some BSDs write raw IP as DLT 12 or 14 in classic pcap files.
const DLT_RAW_BSD1 = 12;
const DLT_RAW_BSD2 = 14;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_QINQ_OLD2 = 0x9200;
const MAX_VLAN_TAGS = 4;
const MAX_V6_EXT = 8;

export function isSupportedLink(linktype: number): boolean {
  switch (linktype) {
    case LINKTYPE_NULL:
    case LINKTYPE_ETHERNET:
    case LINKTYPE_RAW:
    case LINKTYPE_LOOP:
    case LINKTYPE_LINUX_SLL:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
    case LINKTYPE_LINUX_SLL2:
    case DLT_RAW_BSD1:
    case DLT_RAW_BSD2:
      return true;
    default:
      return false;
  }
}

/** Decodes buf[off, off+caplen) of the given link type into p. */
export function decodeFrame(buf: Buffer, off: number, caplen: number, linktype: number, p: Packet): Decoded {
  p.buf = buf;
  p.macOff = linktype === LINKTYPE_ETHERNET && caplen >= 14 ? off : -1;
  p.vlan = -1;
  p.innerVlan = -1;
  p.ipVersion = 0;
  p.fragment = false;
  p.truncated = false;
  p.sport = 0;
  p.dport = 0;
  p.tcpFlags = 0;
  p.payLen = 0;
  p.payWireLen = 0;
  const end = off + caplen;
  let etype: number;
  let o: number;
  switch (linktype) {
    case LINKTYPE_ETHERNET:
      if (caplen < 14) return truncatedLink(p);
      etype = u16be(buf, off + 12);
      o = off + 14;
      break;
    case LINKTYPE_LINUX_SLL:
      if (caplen < 16) return truncatedLink(p);
      etype = u16be(buf, off + 14);
      o = off + 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (caplen < 20) return truncatedLink(p);
      etype = u16be(buf, off);
      o = off + 20;
      break;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (caplen < 4) return truncatedLink(p);
      // NULL stores the address family in the writer's byte order, LOOP in network order.
      const af = linktype === LINKTYPE_LOOP ? u32be(buf, off) : nullFamily(buf, off);
      o = off + 4;
      if (af === 2) etype = ETH_IPV4;
      else if (af === 24 || af === 28 || af === 30 || af === 10) etype = ETH_IPV6;
      else return Decoded.NonIp;
      break;
    }
    case LINKTYPE_RAW:
    case DLT_RAW_BSD1:
    case DLT_RAW_BSD2:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      if (caplen < 1) return truncatedLink(p);
      etype = buf[off] >> 4 === 6 ? ETH_IPV6 : ETH_IPV4;
      o = off;
      break;
    default:
      return Decoded.UnsupportedLink;
  }
  for (let tags = 0; etype === ETH_VLAN || etype === ETH_QINQ || etype === ETH_QINQ_OLD || etype === ETH_QINQ_OLD2; tags++) {
    if (tags === MAX_VLAN_TAGS) return Decoded.Malformed;
    if (end - o < 4) return truncatedLink(p);
    const vid = u16be(buf, o) & 0x0fff;
    if (p.vlan < 0) p.vlan = vid;
    else if (p.innerVlan < 0) p.innerVlan = vid;
    etype = u16be(buf, o + 2);
    o += 4;
  }
  if (etype === ETH_IPV4) return decodeIPv4(buf, o, end, p);
  if (etype === ETH_IPV6) return decodeIPv6(buf, o, end, p);
  return Decoded.NonIp;
}

function nullFamily(buf: Buffer, off: number): number {
  const le = u16le(buf, off) | (u16le(buf, off + 2) << 16);
  return le < 256 ? le : u32be(buf, off);
}

function truncatedLink(p: Packet): Decoded {
  p.truncated = true;
  return Decoded.NonIp;
}

function decodeIPv4(buf: Buffer, o: number, end: number, p: Packet): Decoded {
  if (end - o < 20) {
    p.truncated = true;
    return Decoded.IpOther;
  }
  const vihl = buf[o];
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return Decoded.Malformed;
  const total = u16be(buf, o + 2);
  if (total < ihl) return Decoded.Malformed;
  p.ipVersion = 4;
  p.srcOff = o + 12;
  p.dstOff = o + 16;
  p.proto = buf[o + 9];
  p.ipLen = total;
  const fragField = u16be(buf, o + 6);
  const fragOffset = fragField & 0x1fff;
  p.fragment = (fragField & 0x2000) !== 0 || fragOffset !== 0;
  let ipEnd = o + total;
  if (ipEnd > end) {
    p.truncated = true;
    ipEnd = end;
  }
  const l4 = o + ihl;
  if (l4 > ipEnd) return Decoded.IpOther;
  if (fragOffset !== 0) return Decoded.IpOther; // no transport header in later fragments
  return decodeL4(buf, l4, ipEnd, o + total, p);
}

function decodeIPv6(buf: Buffer, o: number, end: number, p: Packet): Decoded {
  if (end - o < 40) {
    p.truncated = true;
    return Decoded.IpOther;
  }
  if (buf[o] >> 4 !== 6) return Decoded.Malformed;
  const plen = u16be(buf, o + 4);
  p.ipVersion = 6;
  p.srcOff = o + 8;
  p.dstOff = o + 24;
  p.ipLen = 40 + plen; // jumbograms (plen 0 + hop-by-hop option) are not expected on ICS links
  let next = buf[o + 6];
  const wireEnd = o + 40 + plen;
  let ipEnd = wireEnd;
  if (ipEnd > end) {
    p.truncated = true;
    ipEnd = end;
  }
  let h = o + 40;
  for (let i = 0; ; i++) {
    if (next === 0 || next === 43 || next === 60 || next === 44 || next === 51) {
      if (i === MAX_V6_EXT) return Decoded.Malformed;
      if (ipEnd - h < 8) {
        p.proto = next;
        return Decoded.IpOther;
      }
      let len: number;
      if (next === 44) {
        len = 8;
        const fo = u16be(buf, h + 2);
        p.fragment = true;
        if ((fo & 0xfff8) !== 0) {
          p.proto = buf[h];
          return Decoded.IpOther;
        }
      } else if (next === 51) {
        len = (buf[h + 1] + 2) * 4;
      } else {
        len = (buf[h + 1] + 1) * 8;
      }
      next = buf[h];
      h += len;
      if (h > wireEnd) return Decoded.Malformed;
      continue;
    }
    break;
  }
  p.proto = next;
  if (h > ipEnd) return Decoded.IpOther;
  return decodeL4(buf, h, ipEnd, wireEnd, p);
}

function decodeL4(buf: Buffer, o: number, end: number, wireEnd: number, p: Packet): Decoded {
  if (p.proto === PROTO_TCP) {
    if (end - o < 20) {
      if (wireEnd - o >= 20) p.truncated = true;
      return Decoded.IpOther;
    }
    const doff = (buf[o + 12] >> 4) * 4;
    if (doff < 20 || o + doff > wireEnd) return Decoded.Malformed;
    p.sport = u16be(buf, o);
    p.dport = u16be(buf, o + 2);
    // int32, not uint32: sequence arithmetic is modulo 2^32 anyway, and a
    // word above 2^31 would make V8 keep these fields (and the stream's) as doubles.
    p.seq = (buf[o + 4] << 24) | (buf[o + 5] << 16) | (buf[o + 6] << 8) | buf[o + 7];
    p.ack = (buf[o + 8] << 24) | (buf[o + 9] << 16) | (buf[o + 10] << 8) | buf[o + 11];
    p.tcpFlags = buf[o + 13];
    const pay = o + doff;
    p.payOff = pay;
    p.payWireLen = wireEnd - pay;
    p.payLen = end > pay ? end - pay : 0;
    return Decoded.Tcp;
  }
  if (p.proto === PROTO_UDP) {
    if (end - o < 8) {
      if (wireEnd - o >= 8) p.truncated = true;
      return Decoded.IpOther;
    }
    p.sport = u16be(buf, o);
    p.dport = u16be(buf, o + 2);
    let ulen = u16be(buf, o + 4);
    if (ulen < 8) return Decoded.Malformed;
    if (o + ulen > wireEnd) {
      if (!p.fragment) return Decoded.Malformed;
      ulen = wireEnd - o; // first fragment: the rest of the datagram is elsewhere
    }
    const pay = o + 8;
    p.payOff = pay;
    p.payWireLen = ulen - 8;
    const capEnd = o + ulen < end ? o + ulen : end;
    p.payLen = capEnd - pay;
    return Decoded.Udp;
  }
  return Decoded.IpOther;
}
