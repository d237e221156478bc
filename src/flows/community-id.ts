// Community ID v1 (https://github.com/corelight/community-id-spec): a flow hash
// that other tools (Zeek, Suricata, Wireshark) compute identically, so records
// can be joined across sensors. Computed once per flow, never per packet.
import { createHash } from 'node:crypto';

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMP6 = 58;
const PROTO_SCTP = 132;

// ICMP types that form request/reply pairs: the reply's type stands in for the
// "destination port" so both directions hash alike. Types not listed are
// one-way and keep (type, code) as (sport, dport) with no endpoint swap.
const ICMP4_PAIR: ReadonlyMap<number, number> = new Map([
  [8, 0],
  [0, 8], // echo
  [13, 14],
  [14, 13], // timestamp
  [15, 16],
  [16, 15], // information
  [17, 18],
  [18, 17], // address mask
  [10, 9],
  [9, 10], // router solicitation / advertisement
]);
const ICMP6_PAIR: ReadonlyMap<number, number> = new Map([
  [128, 129],
  [129, 128], // echo
  [133, 134],
  [134, 133], // router solicitation / advertisement
  [135, 136],
  [136, 135], // neighbor solicitation / advertisement
  [130, 131],
  [131, 130], // multicast listener query / report
  [144, 145],
  [145, 144], // home agent address discovery
]);

/** -1, 0 or 1 comparing two addresses of equal length as unsigned bytes. */
function compareAddr(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/**
 * Community ID v1 of a flow, as '1:' + base64(sha1(...)).
 * For ICMP (1) and ICMPv6 (58) pass the ICMP type as `sport` and the code as
 * `dport`. For protocols other than TCP, UDP, SCTP, ICMP and ICMPv6 the ports
 * are ignored. `saddr` and `daddr` must both be 4 or both 16 bytes.
 */
export function communityId(proto: number, saddr: Uint8Array, daddr: Uint8Array, sport: number, dport: number, seed = 0): string {
  if (saddr.length !== daddr.length || (saddr.length !== 4 && saddr.length !== 16)) {
    throw new RangeError('communityId: addresses must both be IPv4 or both IPv6');
  }
  let hasPorts = proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP;
  let oneWay = false;
  if (proto === PROTO_ICMP || proto === PROTO_ICMP6) {
    hasPorts = true;
    const pair = (proto === PROTO_ICMP ? ICMP4_PAIR : ICMP6_PAIR).get(sport);
    if (pair === undefined) oneWay = true;
    else dport = pair;
  }

  let a = saddr,
    b = daddr,
    pa = sport,
    pb = dport;
  if (!oneWay) {
    const c = compareAddr(saddr, daddr);
    if (c > 0 || (c === 0 && hasPorts && sport > dport)) {
      a = daddr;
      b = saddr;
      pa = dport;
      pb = sport;
    }
  }

  const alen = a.length;
  const buf = Buffer.alloc(2 + 2 * alen + 2 + (hasPorts ? 4 : 0));
  buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, 2);
  buf.set(b, 2 + alen);
  let o = 2 + 2 * alen;
  buf[o++] = proto & 0xff;
  buf[o++] = 0; // padding byte required by the spec
  if (hasPorts) {
    buf.writeUInt16BE(pa & 0xffff, o);
    buf.writeUInt16BE(pb & 0xffff, o + 2);
  }
  return `1:${createHash('sha1').update(buf).digest('base64')}`;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const dbl = text.indexOf('::');
  if (dbl !== text.lastIndexOf('::')) return null;
  const head = dbl < 0 ? text : text.slice(0, dbl);
  const tail = dbl < 0 ? '' : text.slice(dbl + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');

  // A trailing dotted quad (::ffff:1.2.3.4) fills the last two groups.
  const lastGroups = dbl < 0 ? headGroups : tailGroups;
  let v4: Uint8Array | null = null;
  const last = lastGroups[lastGroups.length - 1];
  if (last?.includes('.')) {
    v4 = parseIpv4(last);
    if (!v4) return null;
    lastGroups.pop();
  }
  const words: number[] = [];
  for (const g of [...headGroups, ...tailGroups]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const groupsNeeded = v4 ? 6 : 8;
  const given = headGroups.length + tailGroups.length;
  if (dbl < 0 ? given !== groupsNeeded : given > groupsNeeded - 1) return null;

  let w = 0;
  for (let i = 0; i < headGroups.length; i++, w++) {
    out[2 * w] = words[i]! >> 8;
    out[2 * w + 1] = words[i]! & 0xff;
  }
  w = groupsNeeded - tailGroups.length;
  for (let i = 0; i < tailGroups.length; i++, w++) {
    const x = words[headGroups.length + i]!;
    out[2 * w] = x >> 8;
    out[2 * w + 1] = x & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

/** IPv4 dotted-quad or IPv6 text to 4 or 16 bytes; throws on anything else. */
export function parseIp(text: string): Uint8Array {
  const r = text.includes(':') ? parseIpv6(text) : parseIpv4(text);
  if (!r) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return r;
}
