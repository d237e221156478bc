// Writes the deterministic test captures in fixtures/pcaps/gen/ and their
// MANIFEST.md / MANIFEST.json (expected flows, declared by hand below and
// checked against tshark's reading of the files in test/tools/pcapgen.test.ts).
//
//   npx tsc && node dist/tools/make-fixtures.js [outDir]   (default fixtures/pcaps/gen)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { communityId, parseIp } from '../src/flows/community-id.js';
import { Clock, mergePackets, toPcap, type Packet } from './pcapgen/capture.js';
import { linktypeOf, type FrameSpec, type Link } from './pcapgen/frame.js';
import {
  dnp3Frame,
  mbException,
  mbReadHoldingReq,
  mbReadHoldingResp,
  mbWriteMultipleReq,
  mbWriteMultipleResp,
  mbWriteSingle,
  modbusAdu,
} from './pcapgen/ics.js';
import { TcpSession, UdpExchange, type TcpSessionOptions, type UdpExchangeOptions } from './pcapgen/tcp-session.js';
import { PcapngWriter, PcapWriter } from './pcapgen/writer.js';

export interface ExpectedFlow {
  proto: 'tcp' | 'udp';
  /** The endpoint that sent the flow's first packet. */
  client: string;
  cport: number;
  server: string;
  sport: number;
  /** VLAN ids, outermost first; [] when untagged. */
  vlans: number[];
  c2s: number; // packets client -> server
  s2c: number; // packets server -> client
  communityId: string;
}

export interface FixtureInfo {
  file: string;
  format: string;
  linktypes: number[];
  /** Packets a reader delivers (before the damage, for damaged files). */
  packets: number;
  about: string;
  /** For damaged files: what a reader must report after `packets` packets. */
  damage?: string;
  flows: ExpectedFlow[];
}

export interface Fixture extends FixtureInfo {
  bytes: Buffer;
}

const T0 = 1_700_000_000; // 2023-11-14T22:13:20Z

function flow(
  proto: 'tcp' | 'udp',
  client: string,
  cport: number,
  server: string,
  sport: number,
  c2s: number,
  s2c: number,
  vlans: number[] = [],
): ExpectedFlow {
  const id = communityId(proto === 'tcp' ? 6 : 17, parseIp(client), parseIp(server), cport, sport);
  return { proto, client, cport, server, sport, vlans, c2s, s2c, communityId: id };
}

// ---- payloads ---------------------------------------------------------------

const mbReq = (tid: number, addr: number, qty: number) => modbusAdu(tid, 1, mbReadHoldingReq(addr, qty));
const mbResp = (tid: number, values: number[]) => modbusAdu(tid, 1, mbReadHoldingResp(values));

// DNP3: link control 0xC4 = DIR|PRM|unconfirmed user data (master), 0x44 = PRM|unconfirmed (outstation).
const DNP_MASTER = 1;
const DNP_OUTSTATION = 10;
/** Transport FIR|FIN with `tseq`, application FIR|FIN with `aseq`, then `rest`. */
function dnpApdu(tseq: number, aseq: number, rest: number[]): Buffer {
  return Buffer.from([0xc0 | (tseq & 0x3f), 0xc0 | (aseq & 0x0f), ...rest]);
}
/** READ (FC 1) of class 1, 2, 3 and 0 (g60 v2,v3,v4,v1, qualifier 0x06 all). */
function dnpIntegrityPoll(tseq: number, aseq: number): Buffer {
  return dnp3Frame(
    0xc4,
    DNP_OUTSTATION,
    DNP_MASTER,
    dnpApdu(tseq, aseq, [0x01, 0x3c, 0x02, 0x06, 0x3c, 0x03, 0x06, 0x3c, 0x04, 0x06, 0x3c, 0x01, 0x06]),
  );
}
/** READ (FC 1) of class 1 events only. */
function dnpClass1Poll(tseq: number, aseq: number): Buffer {
  return dnp3Frame(0xc4, DNP_OUTSTATION, DNP_MASTER, dnpApdu(tseq, aseq, [0x01, 0x3c, 0x02, 0x06]));
}
/** RESPONSE (0x81), IIN 0000, g1v2 points 0-3 (flags) and g30v2 points 0-1 (flag + int16 LE). */
function dnpIntegrityResponse(tseq: number, aseq: number, a0: number, a1: number): Buffer {
  return dnp3Frame(
    0x44,
    DNP_MASTER,
    DNP_OUTSTATION,
    dnpApdu(tseq, aseq, [
      0x81,
      0x00,
      0x00,
      0x01,
      0x02,
      0x00,
      0x00,
      0x03,
      0x01,
      0x81,
      0x01,
      0x01,
      0x1e,
      0x02,
      0x00,
      0x00,
      0x01,
      0x01,
      a0 & 0xff,
      a0 >> 8,
      0x01,
      a1 & 0xff,
      a1 >> 8,
    ]),
  );
}
/** RESPONSE (0x81) with IIN 0000 and no objects. */
function dnpNullResponse(tseq: number, aseq: number): Buffer {
  return dnp3Frame(0x44, DNP_MASTER, DNP_OUTSTATION, dnpApdu(tseq, aseq, [0x81, 0x00, 0x00]));
}

const IEC104_STARTDT_ACT = Buffer.from([0x68, 0x04, 0x07, 0x00, 0x00, 0x00]);
const IEC104_STARTDT_CON = Buffer.from([0x68, 0x04, 0x0b, 0x00, 0x00, 0x00]);

// ---- the basic flow set (same packets in every container variant) ----------

interface BasicSet {
  packets: Packet[];
  /** The packet written as a Simple Packet Block in the pcapng variants. */
  spb: Packet;
}

/**
 * Three flows interleaved in time: Modbus/TCP with handshake and FIN close,
 * DNP3 over UDP both ways, IEC 104 STARTDT closed by RST. Timestamps carry
 * nanosecond digits so the ns variants differ from the µs ones below the µs.
 */
function basicSet(rstLink: Link): BasicSet {
  const clock = new Clock([T0, 123_456_789], 1_000_321);
  const tcp = new TcpSession({ client: '10.0.0.1', server: '10.0.0.2', cport: 49152, sport: 502, clock });
  const udp = new UdpExchange({ client: '10.0.0.3', server: '10.0.0.4', cport: 20000, sport: 20000, clock });
  const rst = new TcpSession({
    client: '10.0.0.5',
    server: '10.0.0.6',
    cport: 49153,
    sport: 2404,
    clock,
    link: rstLink,
    isn: [7000, 9000],
  });
  tcp.handshake();
  udp.send('c2s', dnpClass1Poll(0, 0));
  tcp.send('c2s', mbReq(1, 0, 2));
  udp.send('s2c', dnpNullResponse(0, 0));
  tcp.send('s2c', mbResp(1, [10, 11]));
  rst.handshake();
  tcp.send('c2s', mbReq(2, 2, 1));
  rst.send('c2s', IEC104_STARTDT_ACT);
  tcp.send('s2c', mbResp(2, [12]));
  rst.send('s2c', IEC104_STARTDT_CON);
  udp.send('c2s', dnpClass1Poll(1, 1));
  udp.send('s2c', dnpNullResponse(1, 1));
  rst.rst('c2s');
  tcp.close('c2s');
  const udpFrames = udp.frames();
  return { packets: mergePackets(tcp.frames(), udp.frames(), rst.frames()), spb: udpFrames[3]! };
}

const BASIC_FLOWS = [
  flow('tcp', '10.0.0.1', 49152, '10.0.0.2', 502, 6, 4), // SYN ACK req req FIN ACK / SYN-ACK resp resp FIN
  flow('udp', '10.0.0.3', 20000, '10.0.0.4', 20000, 2, 2),
  flow('tcp', '10.0.0.5', 49153, '10.0.0.6', 2404, 4, 2), // SYN ACK STARTDT-act RST / SYN-ACK STARTDT-con
];
const BASIC_ABOUT =
  'Modbus/TCP 10.0.0.1:49152->10.0.0.2:502 (handshake, 2 reads, FIN close); DNP3/UDP 10.0.0.3<->10.0.0.4 port 20000; ' +
  'IEC 104 10.0.0.5:49153->10.0.0.6:2404 (STARTDT, then RST from the client). First packet at ' +
  `${T0}.123456789, 1.000321 ms apart.`;

/** Ethernet on interface 0 (µs), Linux SLL on interface 1 (ns), an unknown block after packet 3, one SPB. */
function basicPcapng(endian: 'le' | 'be'): Buffer {
  const { packets, spb } = basicSet('sll');
  const w = new PcapngWriter({ endian });
  // The LE file states if_tsresol 6 explicitly; the BE file leaves it out (the default is also 6).
  const eth = w.addInterface({ linktype: linktypeOf('ether'), tsresol: endian === 'le' ? 6 : undefined, name: 'eth0' });
  const sll = w.addInterface({ linktype: linktypeOf('sll'), tsresol: 9, name: 'any' });
  packets.forEach((p, i) => {
    if (p === spb) w.addSimple(p.frame);
    else w.addAt(p.link === 'sll' ? sll : eth, p.sec, p.nsec, p.frame);
    if (i === 2) w.addUnknownBlock(0x80000abc, Buffer.from('local-use block: readers skip it'));
  });
  return w.toBuffer();
}

/** First half in a little-endian section, second half in a big-endian one (interfaces restart at 0). */
function basicTwoSections(): Buffer {
  const { packets } = basicSet('ether');
  const w = new PcapngWriter({ endian: 'le' });
  w.addInterface({ linktype: 1, tsresol: 6, name: 'eth0' });
  const half = packets.length / 2;
  packets.slice(0, half).forEach((p) => {
    w.addAt(0, p.sec, p.nsec, p.frame);
  });
  w.addSectionHeader({ endian: 'be' });
  w.addInterface({ linktype: 1, tsresol: 9, name: 'eth0' });
  packets.slice(half).forEach((p) => {
    w.addAt(0, p.sec, p.nsec, p.frame);
  });
  return w.toBuffer();
}

// ---- link-layer variety ------------------------------------------------------

type MiniOpts = Omit<TcpSessionOptions, 'cport' | 'sport'> & { cport?: number };

/** Handshake, one Modbus read and its response, FIN close: 5 packets c2s, 3 s2c. */
function miniModbus(o: MiniOpts, clock = new Clock([T0, 0], 1_000_000)): Packet[] {
  const s = new TcpSession({ cport: 50000, sport: 502, clock, ...o });
  s.handshake()
    .send('c2s', mbReq(1, 0, 2))
    .send('s2c', mbResp(1, [1, 2]))
    .close('c2s');
  return s.frames();
}

/** One DNP3 read over UDP and its response: 1 packet each way. */
function miniDnpUdp(o: Omit<UdpExchangeOptions, 'cport' | 'sport'>, clock: Clock): Packet[] {
  const u = new UdpExchange({ cport: 20000, sport: 20000, clock, ...o });
  u.send('c2s', dnpClass1Poll(0, 0)).send('s2c', dnpNullResponse(0, 0));
  return u.frames();
}

function linkFixtures(): Fixture[] {
  const out: Fixture[] = [];
  const single = (
    file: string,
    link: Link,
    about: string,
    client: string,
    server: string,
    vlans?: FrameSpec['vlans'],
    frame?: TcpSessionOptions['frame'],
  ) => {
    const packets = miniModbus({ client, server, link, vlans, frame });
    out.push({
      file,
      format: 'pcap µs LE',
      linktypes: [linktypeOf(link)],
      packets: 8,
      about,
      flows: [
        flow(
          'tcp',
          client,
          50000,
          server,
          502,
          5,
          3,
          (vlans ?? []).map((v) => v.id),
        ),
      ],
      bytes: toPcap(packets),
    });
  };
  single('link-ether.pcap', 'ether', 'Ethernet II, IPv4 Modbus/TCP read with handshake and close', '192.168.10.1', '192.168.10.2');
  single('link-vlan100.pcap', 'ether', '802.1Q tag (TPID 0x8100) VLAN 100', '192.168.100.1', '192.168.100.2', [{ id: 100 }]);
  single(
    'link-qinq-88a8.pcap',
    'ether',
    'QinQ: outer 802.1ad TPID 0x88a8 VLAN 200, inner 0x8100 VLAN 300',
    '192.168.200.1',
    '192.168.200.2',
    [{ tpid: 0x88a8, id: 200 }, { id: 300 }],
  );
  single('link-qinq-9100.pcap', 'ether', 'QinQ: outer TPID 0x9100 VLAN 200, inner 0x8100 VLAN 300', '192.168.201.1', '192.168.201.2', [
    { tpid: 0x9100, id: 200 },
    { id: 300 },
  ]);
  single('link-sll.pcap', 'sll', 'Linux cooked capture v1 (LINKTYPE_LINUX_SLL 113)', '192.168.11.1', '192.168.11.2');
  single('link-sll2.pcap', 'sll2', 'Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 276)', '192.168.12.1', '192.168.12.2');
  single('link-raw228.pcap', 'raw4', 'Raw IPv4 (LINKTYPE_IPV4 228)', '192.168.13.1', '192.168.13.2');
  single('link-raw229.pcap', 'raw6', 'Raw IPv6 (LINKTYPE_IPV6 229)', '2001:db8:229::1', '2001:db8:229::2');
  single(
    'ipv6-exthdr.pcap',
    'ether',
    'IPv6 over Ethernet; every packet has a hop-by-hop then a destination-options header (8 bytes each, PadN) before TCP',
    '2001:db8:60::1',
    '2001:db8:60::2',
    undefined,
    { ipv6ExtHeaders: [0, 60] },
  );
  // Router Alert (RFC 2113), NOP, End of Options List and padding: IHL 7.
  single(
    'ipv4-options.pcap',
    'ether',
    'IPv4 with 8 bytes of options (Router Alert, NOP, EOL, padding; IHL 7) on every packet',
    '192.168.14.1',
    '192.168.14.2',
    undefined,
    { ipv4Options: Uint8Array.of(0x94, 0x04, 0, 0, 1, 0, 0, 0) },
  );

  {
    // BSD loopback, little-endian host: AF_INET 2; AF_INET6 30 (macOS), 28 (FreeBSD), 24 (NetBSD/OpenBSD).
    const clock = new Clock([T0, 0], 1_000_000);
    const p = mergePackets(
      miniModbus({ client: '127.0.0.1', server: '127.0.0.1', cport: 50100, link: 'null' }, clock),
      miniModbus({ client: '::1', server: '::1', cport: 50101, link: 'null', frame: { nullAf6: 30 } }, clock),
      miniDnpUdp({ client: '2001:db8:28::1', server: '2001:db8:28::2', link: 'null', frame: { nullAf6: 28 } }, clock),
      miniDnpUdp({ client: '2001:db8:24::1', server: '2001:db8:24::2', link: 'null', frame: { nullAf6: 24 } }, clock),
    );
    out.push({
      file: 'link-null-le.pcap',
      format: 'pcap µs LE',
      linktypes: [0],
      packets: 20,
      about:
        'BSD loopback (LINKTYPE_NULL 0), family little-endian: AF_INET 2 (Modbus over 127.0.0.1), AF_INET6 30 (Modbus over ::1), 28 and 24 (DNP3/UDP)',
      flows: [
        flow('tcp', '127.0.0.1', 50100, '127.0.0.1', 502, 5, 3),
        flow('tcp', '::1', 50101, '::1', 502, 5, 3),
        flow('udp', '2001:db8:28::1', 20000, '2001:db8:28::2', 20000, 1, 1),
        flow('udp', '2001:db8:24::1', 20000, '2001:db8:24::2', 20000, 1, 1),
      ],
      bytes: toPcap(p),
    });
  }
  {
    const clock = new Clock([T0, 0], 1_000_000);
    const p = mergePackets(
      miniModbus({ client: '192.168.15.1', server: '192.168.15.2', link: 'null-be' }, clock),
      miniDnpUdp({ client: '2001:db8:15::1', server: '2001:db8:15::2', link: 'null-be', frame: { nullAf6: 24 } }, clock),
    );
    out.push({
      file: 'link-null-be.pcap',
      format: 'pcap µs BE',
      linktypes: [0],
      packets: 10,
      about:
        'BSD loopback from a big-endian host: family big-endian, AF_INET 2 (Modbus) and AF_INET6 24 (DNP3/UDP); the file header is big-endian too',
      flows: [
        flow('tcp', '192.168.15.1', 50000, '192.168.15.2', 502, 5, 3),
        flow('udp', '2001:db8:15::1', 20000, '2001:db8:15::2', 20000, 1, 1),
      ],
      bytes: toPcap(p, { endian: 'be' }),
    });
  }
  {
    const clock = new Clock([T0, 0], 1_000_000);
    const p = mergePackets(
      miniModbus({ client: '192.168.16.1', server: '192.168.16.2', link: 'raw' }, clock),
      miniDnpUdp({ client: '2001:db8:16::1', server: '2001:db8:16::2', link: 'raw' }, clock),
    );
    out.push({
      file: 'link-raw101.pcap',
      format: 'pcap µs LE',
      linktypes: [101],
      packets: 10,
      about: 'Raw IP (LINKTYPE_RAW 101): IPv4 Modbus/TCP and IPv6 DNP3/UDP in one file (version from the first nibble)',
      flows: [
        flow('tcp', '192.168.16.1', 50000, '192.168.16.2', 502, 5, 3),
        flow('udp', '2001:db8:16::1', 20000, '2001:db8:16::2', 20000, 1, 1),
      ],
      bytes: toPcap(p),
    });
  }
  return out;
}

// ---- TCP stream events -------------------------------------------------------

function tcpEvents(): Fixture {
  const clock = new Clock([T0, 0], 1_000_000);
  const a = new TcpSession({ client: '10.20.0.1', server: '10.20.0.2', cport: 40001, sport: 502, clock });
  a.handshake();
  a.segments('c2s', mbReq(1, 0, 4), [5, 10]); // one 12-byte ADU in 3 segments: 5 + 5 + 2 bytes
  a.send('s2c', mbResp(1, [1, 2, 3, 4]));
  a.send('c2s', mbReq(2, 4, 1)).retransmit('c2s'); // retransmission of the whole ADU
  a.send('s2c', mbResp(2, [5]));
  a.reorder('c2s', [mbReq(3, 5, 1), mbReq(4, 6, 1)], [1, 0]); // tid 4 seen before tid 3
  a.send('s2c', Buffer.concat([mbResp(3, [6]), mbResp(4, [7])])); // two ADUs in one segment
  a.lose('c2s', mbReq(5, 7, 1)); // request tid 5 never captured; its response is
  a.send('s2c', mbResp(5, [8]));
  a.send('c2s', mbReq(6, 8, 1));
  a.send('s2c', mbResp(6, [9]));
  a.close('c2s');

  // Capture starts mid-connection: no handshake, sequence numbers from the ISN+1.
  const b = new TcpSession({ client: '10.20.0.3', server: '10.20.0.4', cport: 40002, sport: 502, clock, isn: [0xfffffff0, 123] });
  b.send('c2s', mbReq(1, 0, 1)).send('s2c', mbResp(1, [42]));
  b.send('c2s', mbReq(2, 0, 1)).send('s2c', mbResp(2, [43])); // client seq wraps past 2^32 here
  return {
    file: 'tcp-events.pcap',
    format: 'pcap µs LE',
    linktypes: [1],
    packets: 23,
    about:
      '10.20.0.1:40001->10.20.0.2:502: handshake; request tid 1 split in 3 segments (5, 5, 2 bytes); tid 2 sent twice (retransmission); ' +
      'tid 4 segment before tid 3 (out of order); responses tid 3+4 in one segment; request tid 5 missing from the capture (12-byte gap, ' +
      'acknowledged by the server), its response present; tid 6; FIN close. 10.20.0.3:40002->10.20.0.4:502: no handshake (capture ' +
      'starts mid-connection), client ISN 0xfffffff0 so its sequence numbers wrap to 0 during the second request, 2 request/response pairs, no close.',
    flows: [
      // c2s: SYN ACK 3xseg tid2 tid2-again tid4 tid3 tid6 FIN ACK = 12; s2c: SYN-ACK r1 r2 r3+4 r5 r6 FIN = 7
      flow('tcp', '10.20.0.1', 40001, '10.20.0.2', 502, 12, 7),
      flow('tcp', '10.20.0.3', 40002, '10.20.0.4', 502, 2, 2),
    ],
    bytes: toPcap(mergePackets(a.frames(), b.frames())),
  };
}

// ---- damaged files -----------------------------------------------------------

function damaged(): Fixture[] {
  const { packets } = basicSet('ether');
  const out: Fixture[] = [];
  {
    const full = toPcap(packets);
    const last = packets[packets.length - 1]!.frame.length;
    out.push({
      file: 'damaged-truncated-last.pcap',
      format: 'pcap µs LE',
      linktypes: [1],
      packets: 19,
      about: `The basic set (see basic-us-le.pcap) with the last record cut ${last - 20} bytes into its ${last} data bytes.`,
      damage: 'last record truncated in the middle of its data (tshark: "cut short in the middle of a packet")',
      flows: [
        flow('tcp', '10.0.0.1', 49152, '10.0.0.2', 502, 5, 4),
        flow('udp', '10.0.0.3', 20000, '10.0.0.4', 20000, 2, 2),
        flow('tcp', '10.0.0.5', 49153, '10.0.0.6', 2404, 4, 2),
      ],
      bytes: full.subarray(0, full.length - (last - 20)),
    });
  }
  {
    const w = new PcapWriter();
    for (const p of packets.slice(0, 6)) w.addAt(p.sec, p.nsec, p.frame);
    w.addRawRecord(T0 + 1, 0, 300000, 300000, Buffer.alloc(64, 0xab));
    out.push({
      file: 'damaged-huge-record.pcap',
      format: 'pcap µs LE',
      linktypes: [1],
      packets: 6,
      about:
        'The first 6 packets of the basic set, then a record header claiming 300000 captured bytes (snaplen 262144), followed by 64 bytes.',
      damage: 'record length 300000 exceeds the snaplen and the 256 KiB limit (tshark: "bigger than maximum of 262144")',
      flows: [flow('tcp', '10.0.0.1', 49152, '10.0.0.2', 502, 3, 1), flow('udp', '10.0.0.3', 20000, '10.0.0.4', 20000, 1, 1)],
      bytes: w.toBuffer(),
    });
  }
  {
    const w = new PcapngWriter();
    w.addInterface({ linktype: 1, tsresol: 6 });
    for (const p of packets.slice(0, 6)) w.addAt(0, p.sec, p.nsec, p.frame);
    // An EPB whose total length (10) is below the 32-byte EPB minimum and not a multiple of 4.
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(6, 0);
    bad.writeUInt32LE(10, 4);
    w.addBytes(bad);
    for (const p of packets.slice(6, 8)) w.addAt(0, p.sec, p.nsec, p.frame);
    out.push({
      file: 'damaged-bad-block.pcapng',
      format: 'pcapng LE',
      linktypes: [1],
      packets: 6,
      about:
        'SHB, IDB, the first 6 packets of the basic set as EPBs, then an EPB header with block total length 10, then 2 more good EPBs a reader cannot reach.',
      damage: 'block total length 10 (too small, not a multiple of 4) after 6 good packets',
      flows: [flow('tcp', '10.0.0.1', 49152, '10.0.0.2', 502, 3, 1), flow('udp', '10.0.0.3', 20000, '10.0.0.4', 20000, 1, 1)],
      bytes: w.toBuffer(),
    });
  }
  {
    const s = new TcpSession({ client: '192.168.50.1', server: '192.168.50.2', cport: 50050, sport: 502, start: [T0, 0] });
    const values = Array.from({ length: 100 }, (_, i) => i * 3);
    s.handshake()
      .send('c2s', mbReq(1, 0, 100))
      .send('s2c', mbResp(1, values))
      .close('c2s');
    out.push({
      file: 'snaplen-truncated.pcap',
      format: 'pcap µs LE',
      linktypes: [1],
      packets: 8,
      about:
        'Snaplen 128: the FC 3 response with 100 registers (Ethernet frame 263 bytes) is recorded with caplen 128, origlen 263 (packet 5). All other packets are whole.',
      damage: 'packet 5 has caplen 128 < origlen 263 (not an error: the reader delivers it, marked truncated)',
      flows: [flow('tcp', '192.168.50.1', 50050, '192.168.50.2', 502, 5, 3)],
      bytes: toPcap(s.frames(), { snaplen: 128 }),
    });
  }
  return out;
}

// ---- plant sample (README quick start) --------------------------------------

const PLANT_CYCLES = 12;

function plantSample(): Fixture {
  const clock = new Clock([T0, 0], 400_000); // 0.4 ms between consecutive packets
  const master = '10.10.1.10';
  const plc1 = new TcpSession({
    client: master,
    server: '10.10.1.21',
    cport: 49200,
    sport: 502,
    clock,
    padServer: true,
    isn: [0x1a2b3c4d, 0x00c0ffee],
    ttl: [128, 64],
  });
  const plc2 = new TcpSession({
    client: master,
    server: '10.10.1.22',
    cport: 49201,
    sport: 502,
    clock,
    padServer: true,
    isn: [0x5e6f7a8b, 0x00badcab],
    ttl: [128, 64],
  });
  const rtu = new TcpSession({
    client: master,
    server: '10.10.1.30',
    cport: 49210,
    sport: 20000,
    clock,
    padServer: true,
    isn: [0x11111111, 0x22222222],
    ttl: [128, 64],
  });
  const ntp = new UdpExchange({ client: master, server: '10.10.1.1', cport: 123, sport: 123, clock, ttl: [128, 64] });
  const syslog = new UdpExchange({ client: '10.10.1.22', server: '10.10.1.5', cport: 514, sport: 514, clock });

  const ntpPacket = (mode: 3 | 4, sec: number) => {
    const b = Buffer.alloc(48);
    b[0] = (4 << 3) | mode; // LI 0, version 4
    if (mode === 4) {
      b[1] = 2;
      b[2] = 6;
      b[3] = 0xe9;
      b.write('GPS\0', 12, 'latin1');
    }
    b.writeUInt32BE((sec + 2_208_988_800) >>> 0, 40); // transmit timestamp, NTP era 0
    return b;
  };
  ntp.send('c2s', ntpPacket(3, T0)).send('s2c', ntpPacket(4, T0));
  plc1.handshake();
  plc2.handshake();
  rtu.handshake();

  let tid1 = 0,
    tid2 = 0,
    tseqM = 0,
    tseqO = 0,
    aseq = 0;
  for (let k = 0; k < PLANT_CYCLES; k++) {
    clock.set(T0 + 1 + k, 0);
    // PLC1: 10 holding registers from 0 (flow, level, ...), deterministic drift.
    plc1.send('c2s', mbReq(++tid1, 0, 10));
    plc1.send(
      's2c',
      mbResp(
        tid1,
        Array.from({ length: 10 }, (_, i) => 1000 + ((k * 37 + i * 11) % 50)),
      ),
    );
    if (k === 3 || k === 10) {
      const pdu = mbWriteSingle(20, k === 3 ? 1 : 0); // setpoint on, later off
      plc1.send('c2s', modbusAdu(++tid1, 1, pdu)).send('s2c', modbusAdu(tid1, 1, pdu));
    }
    // PLC2: 6 registers from 100 (temperatures in 0.1 °C).
    plc2.send('c2s', mbReq(++tid2, 100, 6));
    plc2.send(
      's2c',
      mbResp(
        tid2,
        Array.from({ length: 6 }, (_, i) => 200 + k + i * 5),
      ),
    );
    if (k === 6) {
      plc2.send('c2s', modbusAdu(++tid2, 1, mbWriteMultipleReq(200, [1500, 1600, 1700])));
      plc2.send('s2c', modbusAdu(tid2, 1, mbWriteMultipleResp(200, 3)));
    }
    if (k === 8) {
      plc2.send('c2s', mbReq(++tid2, 9000, 2));
      plc2.send('s2c', modbusAdu(tid2, 1, mbException(0x03, 0x02))); // 0x83: illegal data address
      syslog.send('c2s', Buffer.from('<131>1 plc2 modbus - - - illegal data address 9000 from 10.10.1.10'));
    }
    if (k === 1 || k === 5 || k === 9) {
      if (k === 1) {
        rtu.send('c2s', dnpIntegrityPoll(tseqM++, aseq));
        rtu.send('s2c', dnpIntegrityResponse(tseqO++, aseq, 1234, 0xfed4 /* -300 */));
      } else {
        rtu.send('c2s', dnpClass1Poll(tseqM++, aseq));
        rtu.send('s2c', dnpNullResponse(tseqO++, aseq));
      }
      aseq = (aseq + 1) & 0x0f;
    }
    if (k === 7) ntp.send('c2s', ntpPacket(3, T0 + 1 + k)).send('s2c', ntpPacket(4, T0 + 1 + k));
    // The master's delayed ACK, 200 ms later.
    clock.set(T0 + 1 + k, 200_000_000);
    plc1.ack('c2s');
    plc2.ack('c2s');
    if (k === 1 || k === 5 || k === 9) rtu.ack('c2s');
  }
  clock.set(T0 + 1 + PLANT_CYCLES, 0);
  plc2.close('c2s'); // PLC1 and the RTU stay connected when the capture ends

  return {
    file: 'plant-sample.pcap',
    format: 'pcap µs LE',
    linktypes: [1],
    packets: 106,
    about:
      `Small plant, ${PLANT_CYCLES} one-second poll cycles. Master 10.10.1.10 reads PLC1 10.10.1.21 (FC 3, 10 regs from 0) and PLC2 ` +
      '10.10.1.22 (FC 3, 6 regs from 100) every cycle, unit 1; FC 6 to PLC1 reg 20 in cycles 3 and 10; FC 16 to PLC2 regs 200-202 in ' +
      'cycle 6; cycle 8 reads PLC2 reg 9000 and gets exception 0x83 code 2, and PLC2 sends a syslog line; DNP3 master 1 -> outstation ' +
      '10 at 10.10.1.30:20000: integrity poll (classes 1, 2, 3, 0) in cycle 1, class 1 polls in cycles 5 and 9; NTP at the start and in cycle 7. ' +
      'The master ACKs 200 ms after each cycle; PLC frames are padded to 60 bytes. PLC2 connection closed at the end; PLC1 and the RTU stay open.',
    flows: [
      flow('udp', master, 123, '10.10.1.1', 123, 2, 2),
      // c2s: SYN ACK + 12 reads + 2 FC6 + 12 ACKs = 28; s2c: SYN-ACK + 12 + 2 = 15
      flow('tcp', master, 49200, '10.10.1.21', 502, 28, 15),
      // c2s: SYN ACK + 12 reads + FC16 + bad read + 12 ACKs + FIN + ACK = 30; s2c: SYN-ACK + 12 + 1 + 1 + FIN = 16
      flow('tcp', master, 49201, '10.10.1.22', 502, 30, 16),
      // c2s: SYN ACK + 3 polls + 3 ACKs = 8; s2c: SYN-ACK + 3 responses = 4
      flow('tcp', master, 49210, '10.10.1.30', 20000, 8, 4),
      flow('udp', '10.10.1.22', 514, '10.10.1.5', 514, 1, 0),
    ],
    bytes: toPcap(mergePackets(ntp.frames(), plc1.frames(), plc2.frames(), rtu.frames(), syslog.frames())),
  };
}

// ---- all ---------------------------------------------------------------------

export function buildFixtures(): Fixture[] {
  const basic = basicSet('ether').packets;
  const base = { linktypes: [1], packets: 20, flows: BASIC_FLOWS };
  return [
    { ...base, file: 'basic-us-le.pcap', format: 'pcap µs LE', about: BASIC_ABOUT, bytes: toPcap(basic) },
    {
      ...base,
      file: 'basic-us-be.pcap',
      format: 'pcap µs BE',
      about: 'Same packets as basic-us-le.pcap.',
      bytes: toPcap(basic, { endian: 'be' }),
    },
    {
      ...base,
      file: 'basic-ns-le.pcap',
      format: 'pcap ns LE',
      about: 'Same packets, nanosecond timestamps.',
      bytes: toPcap(basic, { nanos: true }),
    },
    {
      ...base,
      file: 'basic-ns-be.pcap',
      format: 'pcap ns BE',
      about: 'Same packets, nanosecond timestamps.',
      bytes: toPcap(basic, { endian: 'be', nanos: true }),
    },
    {
      ...base,
      file: 'basic-le.pcapng',
      format: 'pcapng LE',
      linktypes: [1, 113],
      bytes: basicPcapng('le'),
      about:
        'Same flows. Interface 0 Ethernet, if_tsresol 6 (explicit); interface 1 Linux SLL, if_tsresol 9, carries the IEC 104 flow. ' +
        'A local-use block (type 0x80000abc) follows packet 3; packet 16 (second DNP3 response) is a Simple Packet Block on interface 0 and has no timestamp.',
    },
    {
      ...base,
      file: 'basic-be.pcapng',
      format: 'pcapng BE',
      linktypes: [1, 113],
      bytes: basicPcapng('be'),
      about: 'As basic-le.pcapng, big-endian; interface 0 has no if_tsresol option (default 6).',
    },
    {
      ...base,
      file: 'basic-2sections.pcapng',
      format: 'pcapng LE+BE',
      bytes: basicTwoSections(),
      about:
        'Same packets (all Ethernet): packets 1-10 in a little-endian section (if_tsresol 6), packets 11-20 in a second, big-endian section whose interface 0 has if_tsresol 9.',
    },
    ...linkFixtures(),
    tcpEvents(),
    ...damaged(),
    plantSample(),
  ];
}

function manifestMarkdown(fx: FixtureInfo[]): string {
  const flowText = (f: ExpectedFlow) =>
    `${f.proto} ${f.client}:${f.cport} → ${f.server}:${f.sport}` +
    (f.vlans.length ? ` vlan ${f.vlans.join('/')}` : '') +
    ` — ${f.c2s}/${f.s2c} pkts — \`${f.communityId}\``;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '# Generated captures',
    '',
    'Written by `tools/make-fixtures.ts` (`npx tsc && node dist/tools/make-fixtures.js`); do not edit by hand.',
    'Expected values are declared by hand in that script and checked against tshark by',
    '`test/tools/pcapgen.test.ts`. MANIFEST.json holds the same data.',
    '',
    'Flows: client (first sender) → server, VLAN ids outer/inner, packets client→server / server→client,',
    'Community ID v1 (seed 0). "Packets" counts what a reader delivers (before the damage, for damaged files).',
    '',
    '| file | format | linktypes | packets | contents | damage | flows |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const f of fx) {
    lines.push(
      `| ${f.file} | ${f.format} | ${f.linktypes.join(', ')} | ${f.packets} | ${esc(f.about)} | ${esc(f.damage ?? '')} | ${f.flows.map(flowText).join('<br>')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** JSON with one line per fixture field and per flow, so diffs stay readable. */
function manifestJson(fx: FixtureInfo[]): string {
  const obj = (f: FixtureInfo) => {
    const { flows, ...rest } = f;
    const fields = Object.entries(rest).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    fields.push(`    "flows": [\n${flows.map((x) => `      ${JSON.stringify(x)}`).join(',\n')}\n    ]`);
    return `  {\n${fields.join(',\n')}\n  }`;
  };
  return `[\n${fx.map(obj).join(',\n')}\n]\n`;
}

export function writeFixtures(outDir: string): Fixture[] {
  const fx = buildFixtures();
  mkdirSync(outDir, { recursive: true });
  for (const f of fx) writeFileSync(join(outDir, f.file), f.bytes);
  const info: FixtureInfo[] = fx.map((f) => ({
    file: f.file,
    format: f.format,
    linktypes: f.linktypes,
    packets: f.packets,
    about: f.about,
    ...(f.damage !== undefined ? { damage: f.damage } : {}),
    flows: f.flows,
  }));
  writeFileSync(join(outDir, 'MANIFEST.md'), manifestMarkdown(info));
  writeFileSync(join(outDir, 'MANIFEST.json'), manifestJson(info));
  return fx;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = resolve(process.argv[2] ?? 'fixtures/pcaps/gen');
  const fx = writeFixtures(outDir);
  console.log(`wrote ${fx.length} captures and MANIFEST.md/.json to ${outDir}`);
}
