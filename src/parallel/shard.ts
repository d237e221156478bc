// Which worker a frame goes to: a symmetric hash of the flow's address pair
// and VLAN ids, read straight from the raw frame (no full decode).
//
// Why these fields and not the 5-tuple: the worker must see every packet of a
// flow in both directions, and a non-first IP fragment has no ports, so a
// key with ports would send it away from its flow. The engine's flow key is
// (VLAN, inner VLAN, IP version, protocol, addresses, ports); any coarser key
// is consistent with it, and (outer VLAN, inner VLAN, {src, dst}) is the
// coarsest that still spreads load: every flow, fragment and ICMP message
// between two hosts lands on one worker. The same function can be computed
// by a packet broker or a symmetric RSS hash to split a link across sensors
// (docs/workers.md).
//
// The link-layer walk mirrors decodeFrame: every frame the decoder turns into
// a TCP/UDP flow yields here the same VLAN ids and addresses (tested over the
// whole corpus). Frames without readable IP addresses hash to NON_IP.
import { u16be, u16le, u32be } from '../capture/bytes.js';
import { fmix, mix } from '../flows/murmur3.js';

/** Hash of frames with no IP addresses to read (ARP, LLDP, cut-off headers). */
export const NON_IP = -1;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const MAX_VLAN_TAGS = 4;

function isVlanType(t: number): boolean {
  return t === 0x8100 || t === 0x88a8 || t === 0x9100 || t === 0x9200;
}

/**
 * Symmetric flow hash of a frame: an unsigned 32-bit value, equal for both
 * directions, or NON_IP. Reads only buf[off, off+caplen).
 *
 * Definition (for reimplementation on a broker): v = outer VLAN id or 0xffff,
 * w = inner VLAN id or 0xffff; an address is its 32-bit word (IPv4) or the XOR
 * of its four big-endian words (IPv6); lo/hi = the two addresses as unsigned
 * numbers, lo <= hi. h = fmix(mix(mix(mix(seed = 0x4f545741 ^ version, v | w << 16), lo), hi))
 * with MurmurHash3's 32-bit block mix and finalizer.
 */
export function flowHash(buf: Buffer, off: number, caplen: number, linktype: number): number {
  const end = off + caplen;
  let etype: number;
  let o: number;
  switch (linktype) {
    case 1: // Ethernet
      if (caplen < 14) return NON_IP;
      etype = u16be(buf, off + 12);
      o = off + 14;
      break;
    case 113: // Linux SLL
      if (caplen < 16) return NON_IP;
      etype = u16be(buf, off + 14);
      o = off + 16;
      break;
    case 276: // Linux SLL2
      if (caplen < 20) return NON_IP;
      etype = u16be(buf, off);
      o = off + 20;
      break;
    case 0: // NULL: family in the writer's byte order
    case 108: {
      // LOOP: family in network order
      if (caplen < 4) return NON_IP;
      let af: number;
      if (linktype === 108) af = u32be(buf, off);
      else {
        const le = u16le(buf, off) | (u16le(buf, off + 2) << 16);
        af = le < 256 ? le : u32be(buf, off);
      }
      o = off + 4;
      if (af === 2) etype = ETH_IPV4;
      else if (af === 24 || af === 28 || af === 30 || af === 10) etype = ETH_IPV6;
      else return NON_IP;
      break;
    }
    case 101:
    case 12:
    case 14:
    case 228:
    case 229: // raw IP
      if (caplen < 1) return NON_IP;
      etype = buf[off] >> 4 === 6 ? ETH_IPV6 : ETH_IPV4;
      o = off;
      break;
    default:
      return NON_IP;
  }
  let vlan = 0xffff;
  let inner = 0xffff;
  for (let tags = 0; isVlanType(etype); tags++) {
    if (tags === MAX_VLAN_TAGS || end - o < 4) return NON_IP;
    const vid = u16be(buf, o) & 0x0fff;
    if (tags === 0) vlan = vid;
    else if (tags === 1) inner = vid;
    etype = u16be(buf, o + 2);
    o += 4;
  }
  let a: number;
  let b: number;
  let version: number;
  if (etype === ETH_IPV4) {
    if (end - o < 20) return NON_IP;
    a = u32be(buf, o + 12);
    b = u32be(buf, o + 16);
    version = 4;
  } else if (etype === ETH_IPV6) {
    if (end - o < 40) return NON_IP;
    a = u32be(buf, o + 8) ^ u32be(buf, o + 12) ^ u32be(buf, o + 16) ^ u32be(buf, o + 20);
    b = u32be(buf, o + 24) ^ u32be(buf, o + 28) ^ u32be(buf, o + 32) ^ u32be(buf, o + 36);
    a >>>= 0;
    b >>>= 0;
    version = 6;
  } else {
    return NON_IP;
  }
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  let h = mix(0x4f545741 ^ version, vlan | (inner << 16));
  h = mix(h, lo);
  h = mix(h, hi);
  return fmix(h);
}

/** Worker index for a hash: the 32-bit space cut into n equal ranges (so a
 *  range maps onto a sensor just as well as onto a thread). */
export function shardOfHash(h: number, n: number): number {
  return h === NON_IP ? 0 : Math.floor((h * n) / 4294967296);
}

export function shardOf(buf: Buffer, off: number, caplen: number, linktype: number, n: number): number {
  return shardOfHash(flowHash(buf, off, caplen, linktype), n);
}
