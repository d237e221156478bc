// The decoded layers of one frame. Like gopacket's DecodingLayerParser, one
// object is filled for every packet and reused: nothing here is allocated per
// packet, addresses stay in the frame's buffer as offsets.

export const enum Decoded {
  /** TCP or UDP with ports: a flow packet. */
  Tcp = 1,
  Udp = 2,
  /** IP, but no ports: other transport, non-first fragment, or L4 header cut off. */
  IpOther = 3,
  /** Not IP (ARP, LLDP, ...). */
  NonIp = 4,
  /** Headers inconsistent with themselves. */
  Malformed = 5,
  /** Link type we do not decode. */
  UnsupportedLink = 6,
}

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export class Packet {
  buf: Buffer = Buffer.alloc(0);
  /** Ethernet frames: offset of the destination MAC in buf (the source MAC
   *  follows at +6); -1 for other link types. */
  macOff = -1;
  /** Outer and inner 802.1Q/QinQ ids; -1 when absent. */
  vlan = -1;
  innerVlan = -1;
  /** 4, 6, or 0 when not IP. */
  ipVersion = 0;
  /** Offsets of the source and destination addresses in buf (4 or 16 bytes). */
  srcOff = 0;
  dstOff = 0;
  /** IP protocol / final IPv6 next header. */
  proto = 0;
  /** Bytes of the IP packet on the wire (IP header + payload), from its length field. */
  ipLen = 0;
  /** IPv4 MF or offset, or an IPv6 fragment header. */
  fragment = false;
  /** Captured bytes end before the IP packet does (snaplen). */
  truncated = false;
  sport = 0;
  dport = 0;
  tcpFlags = 0;
  /** TCP sequence and acknowledgement numbers as int32 (compare with `(a - b) | 0`). */
  seq = 0;
  ack = 0;
  /** Transport payload: offset in buf, bytes captured, and bytes on the wire. */
  payOff = 0;
  payLen = 0;
  payWireLen = 0;
}
