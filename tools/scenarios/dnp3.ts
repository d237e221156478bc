// DNP3 capture scenarios for end-to-end tests: each function returns a pcap
// and what otwatch must report for it. Expectations are declared from how the
// scenario was built (which link frames, transport segments and application
// fragments were sent, which bytes were damaged), never from running the
// dissector.
//
// Wire format (IEEE 1815-2012): link frame 05 64 LEN CTRL DST SRC CRC, user
// data in 16-byte blocks each with a CRC (tools/pcapgen/ics.ts dnp3Frame);
// transport header FIN 0x80 | FIR 0x40 | seq (6 bits); application header
// control FIR 0x80 | FIN 0x40 | CON 0x20 | UNS 0x10 | seq (4 bits), function
// code, IIN (2 octets, responses only), then object headers.
//
// What the dissector emits: one record per complete application fragment
// (at the link frame holding its FIN segment), one per link frame without
// user data (fc null), one per frame with a bad CRC (crc_ok false, fc null).
import { Clock, toPcap } from '../pcapgen/capture.js';
import { dnp3Frame } from '../pcapgen/ics.js';
import { TcpSession, UdpExchange } from '../pcapgen/tcp-session.js';

export type ScenarioDir = 'c2s' | 's2c';

export interface Dnp3ObjectJson {
  group: number;
  variation: number;
  qualifier: number;
  count: number;
}

/** The "dnp3" member of a PDU record (the dissector's pduJson). */
export interface Dnp3Json {
  src: number;
  dst: number;
  link_fc: number;
  fc: number | null;
  iin: number | null;
  uns: boolean;
  objects?: Dnp3ObjectJson[];
  objects_truncated?: true;
  crc_ok: boolean;
}

export interface ExpectedDnp3Pdu {
  /** 1-based number of the packet that carried the frame's last byte. */
  pkt: number;
  /** That packet's capture time (epoch seconds). */
  ts: number;
  dir: ScenarioDir;
  dnp3: Dnp3Json;
}

/** The "dnp3" member of the flow record (the dissector's flowJson). */
export interface Dnp3FlowCounters {
  fc: Record<string, number>;
  crc_errors: number;
  link_frames: number;
  link_only: number;
  segments: number;
  fragments: number;
  unsolicited: number;
  dropped_fragments: number;
}

export interface Dnp3Scenario {
  name: string;
  about: string;
  pcap: Buffer;
  transport: 'tcp' | 'udp';
  /** The master (client role) and the outstation (server role). */
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  /** PDU records in capture order. */
  pdus: ExpectedDnp3Pdu[];
  /** Anomalies the dissector reports, in order (stream-layer events are not listed). */
  anomalies: { dir: ScenarioDir; name: string }[];
  flow: Dnp3FlowCounters;
}

// ---- frames -----------------------------------------------------------------

const MASTER = 1;
const OUTSTATION = 10;

// Link control octets: DIR 0x80 (sent by the master), PRM 0x40, function code.
const CTRL_DATA = { c2s: 0xc4, s2c: 0x44 } as const; // unconfirmed user data (4)
const CTRL_REQ_LINK_STATUS = 0xc9; // master, primary, request link status (9)
const CTRL_LINK_STATUS = 0x0b; // outstation, secondary, link status (11)

/** One link frame and what the dissector makes of it. */
interface Frame {
  bytes: Buffer;
  kind: 'link_only' | 'segment' | 'bad_crc';
  /** The record it completes, if any. */
  emits: Dnp3Json | null;
  /** A partial fragment is abandoned when this frame is read. */
  dropsFragment?: boolean;
}

const addr = (dir: ScenarioDir) => (dir === 'c2s' ? { src: MASTER, dst: OUTSTATION } : { src: OUTSTATION, dst: MASTER });

function linkOnly(dir: ScenarioDir, ctrl: number): Frame {
  const { src, dst } = addr(dir);
  return {
    bytes: dnp3Frame(ctrl, dst, src, new Uint8Array(0)),
    kind: 'link_only',
    emits: { src, dst, link_fc: ctrl & 0x0f, fc: null, iin: null, uns: false, crc_ok: true },
  };
}

/** `frame` with byte `at` flipped: the CRC covering it fails. */
function damaged(dir: ScenarioDir, frame: Frame, at: number, dropsFragment = false): Frame {
  const { src, dst } = addr(dir);
  const bytes = Buffer.from(frame.bytes);
  bytes[at] ^= 0x5a;
  return {
    bytes,
    kind: 'bad_crc',
    dropsFragment,
    emits: { src, dst, link_fc: bytes[3]! & 0x0f, fc: null, iin: null, uns: false, crc_ok: false },
  };
}

/** What an application fragment decodes to, without the link fields. */
type AppJson = Pick<Dnp3Json, 'fc' | 'iin' | 'uns' | 'objects'>;

const obj = (group: number, variation: number, qualifier: number, count: number): Dnp3ObjectJson => ({
  group,
  variation,
  qualifier,
  count,
});

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

// ---- scenario script ---------------------------------------------------------

class Script {
  readonly conv: TcpSession | UdpExchange;
  readonly pdus: ExpectedDnp3Pdu[] = [];
  readonly anomalies: { dir: ScenarioDir; name: string }[] = [];
  private readonly flow: Dnp3FlowCounters = {
    fc: {},
    crc_errors: 0,
    link_frames: 0,
    link_only: 0,
    segments: 0,
    fragments: 0,
    unsolicited: 0,
    dropped_fragments: 0,
  };
  /** Next transport sequence number per direction. */
  private readonly tseq = { c2s: 0, s2c: 0 };
  /** Next application sequence number: master requests, outstation unsolicited. */
  private readonly aseq = { c2s: 0, s2c: 0 };
  private lastReqSeq = 0;

  constructor(
    readonly name: string,
    readonly transport: 'tcp' | 'udp',
    start: number,
    readonly client: string,
    readonly server: string,
    readonly cport: number,
    readonly sport: number,
    handshake = true,
  ) {
    const clock = new Clock(start, 5_000_000);
    if (transport === 'tcp') {
      const s = new TcpSession({ client, server, cport, sport, clock });
      if (handshake) s.handshake();
      this.conv = s;
    } else {
      this.conv = new UdpExchange({ client, server, cport, sport, clock });
    }
  }

  setTransportSeq(dir: ScenarioDir, seq: number): void {
    this.tseq[dir] = seq & 0x3f;
  }

  /**
   * The link frames of one application fragment from `dir` (transport
   * segments of at most `seg` application bytes); the last frame emits it.
   */
  fragment(dir: ScenarioDir, app: number[], json: AppJson, seg = 249): Frame[] {
    const { src, dst } = addr(dir);
    const frames: Frame[] = [];
    for (let i = 0; i < app.length; i += seg) {
      const fir = i === 0 ? 0x40 : 0;
      const fin = i + seg >= app.length ? 0x80 : 0;
      const th = fin | fir | this.tseq[dir];
      this.tseq[dir] = (this.tseq[dir] + 1) & 0x3f;
      frames.push({
        bytes: dnp3Frame(CTRL_DATA[dir], dst, src, Uint8Array.from([th, ...app.slice(i, i + seg)])),
        kind: 'segment',
        emits: fin ? { src, dst, link_fc: CTRL_DATA[dir] & 0x0f, ...json, crc_ok: true } : null,
      });
    }
    return frames;
  }

  /** A master request: application control FIR|FIN|seq. */
  request(fc: number, objects: number[], json: Dnp3ObjectJson[]): Frame[] {
    const seq = this.aseq.c2s;
    this.lastReqSeq = seq;
    this.aseq.c2s = (seq + 1) & 0x0f;
    return this.fragment('c2s', [0xc0 | seq, fc, ...objects], { fc, iin: null, uns: false, ...objs(json) });
  }

  /** The outstation's response (fc 129) to the last request, echoing its sequence number. */
  response(iin: number, objects: number[], json: Dnp3ObjectJson[], con = false, seg = 249): Frame[] {
    const ac = 0xc0 | (con ? 0x20 : 0) | this.lastReqSeq;
    return this.fragment('s2c', [ac, 129, iin >> 8, iin & 0xff, ...objects], { fc: 129, iin, uns: false, ...objs(json) }, seg);
  }

  /** An unsolicited response (fc 130, UNS and CON set) with the outstation's own sequence. */
  unsolicited(iin: number, objects: number[], json: Dnp3ObjectJson[]): Frame[] {
    const seq = this.aseq.s2c;
    this.aseq.s2c = (seq + 1) & 0x0f;
    return this.fragment('s2c', [0xf0 | seq, 130, iin >> 8, iin & 0xff, ...objects], { fc: 130, iin, uns: true, ...objs(json) });
  }

  /** The master's application confirm (fc 0) of the last solicited response (same sequence). */
  confirmResponse(): Frame[] {
    return this.fragment('c2s', [0xc0 | this.lastReqSeq, 0], { fc: 0, iin: null, uns: false });
  }

  /** The master's confirm of the last unsolicited response: UNS set, the outstation's sequence. */
  confirmUnsolicited(): Frame[] {
    const seq = (this.aseq.s2c + 15) & 0x0f;
    return this.fragment('c2s', [0xd0 | seq, 0], { fc: 0, iin: null, uns: true });
  }

  /**
   * Sends `frames` back to back from `dir`, cut into TCP segments at the byte
   * offsets `cuts` (one UDP datagram for UDP). Each frame's record is expected
   * at the packet holding the frame's last byte.
   */
  send(dir: ScenarioDir, frames: Frame[], cuts: number[] = []): void {
    const payload = Buffer.concat(frames.map((f) => f.bytes));
    const before = this.conv.frames().length;
    if (this.conv instanceof TcpSession) {
      if (cuts.length) this.conv.split(dir, payload, cuts);
      else this.conv.send(dir, payload);
    } else {
      if (cuts.length) throw new Error('a UDP datagram is not cut');
      this.conv.send(dir, payload);
    }
    const packets = this.conv.frames();
    const bounds = [0, ...cuts, payload.length];
    let end = 0;
    for (const f of frames) {
      end += f.bytes.length;
      let piece = 0;
      while (bounds[piece + 1]! < end) piece++;
      const pkt = before + piece + 1;
      this.count(dir, f);
      if (f.emits) this.pdus.push({ pkt, ts: packets[pkt - 1]!.ts, dir, dnp3: f.emits });
    }
  }

  private count(dir: ScenarioDir, f: Frame): void {
    const c = this.flow;
    c.link_frames++;
    if (f.kind === 'bad_crc') {
      c.crc_errors++;
      this.anomalies.push({ dir, name: 'bad_crc' });
    } else if (f.kind === 'link_only') {
      c.link_only++;
    } else {
      c.segments++;
    }
    if (f.dropsFragment) c.dropped_fragments++;
    const j = f.emits;
    if (f.kind === 'segment' && j && j.fc !== null) {
      c.fragments++;
      c.fc[j.fc] = (c.fc[j.fc] ?? 0) + 1;
      if (j.uns) c.unsolicited++;
    }
  }

  done(about: string): Dnp3Scenario {
    if (this.conv instanceof TcpSession) this.conv.close('c2s');
    return {
      name: this.name,
      about,
      pcap: toPcap(this.conv.frames()),
      transport: this.transport,
      client: { ip: this.client, port: this.cport },
      server: { ip: this.server, port: this.sport },
      pdus: this.pdus,
      anomalies: this.anomalies,
      flow: this.flow,
    };
  }
}

const objs = (json: Dnp3ObjectJson[]): { objects?: Dnp3ObjectJson[] } => (json.length ? { objects: json } : {});

// ---- application content ------------------------------------------------------

const T0 = 1_700_000_000;
const HMI = '192.168.20.10';
const RTU = '192.168.20.30';

/** READ class 1, 2, 3 events and class 0 (g60 v2, v3, v4, v1; qualifier 0x06 "all", no range). */
const READ_CLASSES = [60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06];
const READ_CLASSES_JSON = [obj(60, 2, 6, 0), obj(60, 3, 6, 0), obj(60, 4, 6, 0), obj(60, 1, 6, 0)];

/** g30v1 (32-bit analog input with flag, 5 octets each), qualifier 0x00 (8-bit start/stop) `start`..`stop`. */
function analogs(start: number, stop: number): number[] {
  const out = [30, 1, 0x00, start, stop];
  for (let i = start; i <= stop; i++) out.push(0x01, ...le32(1000 + i)); // flag ONLINE, value
  return out;
}

/** g1v2 (binary input with flags, 1 octet each), qualifier 0x00 `start`..`stop`. */
function binaries(start: number, stop: number): number[] {
  const out = [1, 2, 0x00, start, stop];
  for (let i = start; i <= stop; i++) out.push(i & 1 ? 0x81 : 0x01); // ONLINE, state in bit 7
  return out;
}

/** g12v1 CROB, qualifier 0x28 (2-octet count 1, 2-octet index): latch on, 100 ms on, status. */
function crob(index: number, status = 0): number[] {
  return [12, 1, 0x28, ...le16(1), ...le16(index), 0x03, 1, ...le32(100), ...le32(0), status];
}
const CROB_JSON = obj(12, 1, 0x28, 1);

// ---- scenarios -----------------------------------------------------------------

/** Two link frames per TCP segment, both ways. */
export function dnp3TwoFramesPerSegment(): Dnp3Scenario {
  const s = new Script('dnp3-two-frames-per-segment', 'tcp', T0, HMI, RTU, 50100, 20000);
  // Link status request + READ in one segment; link status + the response in one.
  s.send('c2s', [linkOnly('c2s', CTRL_REQ_LINK_STATUS), ...s.request(1, READ_CLASSES, READ_CLASSES_JSON)]);
  s.send('s2c', [
    linkOnly('s2c', CTRL_LINK_STATUS),
    ...s.response(0x0000, [...analogs(0, 2), ...binaries(0, 3)], [obj(30, 1, 0, 3), obj(1, 2, 0, 4)], true),
  ]);
  // The response asked for confirmation (CON): CONFIRM and the next READ share a segment.
  s.send('c2s', [...s.confirmResponse(), ...s.request(1, [60, 1, 0x06], [obj(60, 1, 6, 0)])]);
  s.send('s2c', s.response(0x0000, analogs(0, 0), [obj(30, 1, 0, 1)]));
  return s.done(
    'link status request + READ (classes 1,2,3,0) in one client segment, link status + response in one server segment, then CONFIRM + READ in one segment',
  );
}

/** Frames cut across TCP segments at awkward places. */
export function dnp3SplitAcrossSegments(): Dnp3Scenario {
  const s = new Script('dnp3-split-across-segments', 'tcp', T0 + 100, HMI, RTU, 50101, 20000);
  const req = s.request(1, READ_CLASSES, READ_CLASSES_JSON); // one 27-byte frame
  s.send('c2s', req, [1, 9]); // after 0x05; inside the header CRC
  // 4 + 5+5*10 + 5+8 = 72 application octets + transport octet = 73: LEN 78, 5 blocks, 10+73+10 = 93 bytes
  const rsp = s.response(0x0000, [...analogs(0, 9), ...binaries(0, 7)], [obj(30, 1, 0, 10), obj(1, 2, 0, 8)]);
  if (rsp.length !== 1 || rsp[0]!.bytes.length !== 93) throw new Error('response frame size');
  s.send('s2c', rsp, [10, 27, 60]); // after the header; between a block's two CRC octets; mid block
  // Two requests whose boundary falls 3 bytes into the second frame.
  const a = s.request(1, [60, 1, 0x06], [obj(60, 1, 6, 0)]);
  const b = s.request(1, [30, 0, 0x06], [obj(30, 0, 6, 0)]);
  s.send('c2s', [...a, ...b], [a[0]!.bytes.length + 3]);
  s.send('s2c', s.response(0x0000, analogs(0, 0), [obj(30, 1, 0, 1)]), [2]);
  return s.done(
    'READ cut after its first byte and inside the header CRC; a 93-byte response cut after the header, between two CRC octets and mid-block; two requests whose boundary is 3 bytes into the second frame',
  );
}

/** A bad header CRC, then a bad data-block CRC in the middle of a 3-segment fragment. */
export function dnp3BadCrc(): Dnp3Scenario {
  const s = new Script('dnp3-bad-crc', 'tcp', T0 + 200, HMI, RTU, 50102, 20000);
  s.send('c2s', s.request(1, READ_CLASSES, READ_CLASSES_JSON));
  s.send('s2c', s.response(0x0000, analogs(0, 1), [obj(30, 1, 0, 2)]));
  // Header CRC damaged (byte 8): the frame is reported with crc_ok false and skipped by its length.
  const [bad] = s.request(1, READ_CLASSES, READ_CLASSES_JSON);
  s.send('c2s', [damaged('c2s', bad!, 8)]);
  // The master retries; the 3-segment response has its middle segment's first data block damaged.
  s.send('c2s', s.request(1, READ_CLASSES, READ_CLASSES_JSON));
  // 4 + 5 + 5*100 = 509 octets: 249 + 249 + 11
  const big = s.response(0x0000, analogs(0, 99), [obj(30, 1, 0, 100)]);
  if (big.length !== 3) throw new Error('3 segments');
  big[1] = damaged('s2c', big[1]!, 12, true);
  big[2]!.emits = null; // the FIN segment of an abandoned fragment completes nothing
  s.send('s2c', big);
  s.send('c2s', s.request(1, [60, 1, 0x06], [obj(60, 1, 6, 0)]));
  s.send('s2c', s.response(0x0000, analogs(5, 5), [obj(30, 1, 0, 1)]));
  return s.done(
    'a READ whose header CRC is wrong (crc_ok false, skipped by its declared length); a 3-segment response whose middle segment has a bad block CRC: that fragment is dropped, the next exchange decodes',
  );
}

/**
 * One response in three transport segments, the sequence number wrapping 62,
 * 63, 0. (tshark 4.0 does not reassemble across that wrap; with 20, 21, 22 it
 * shows the same Response, g30v1 and g1v2 at the third segment.)
 */
export function dnp3MultiFragment(): Dnp3Scenario {
  const s = new Script('dnp3-multi-fragment', 'tcp', T0 + 300, HMI, RTU, 50103, 20000);
  s.send('c2s', s.request(1, READ_CLASSES, READ_CLASSES_JSON));
  s.setTransportSeq('s2c', 62);
  // g30v1 with 16-bit start/stop (qualifier 0x01) 0..99: 100 x 5 octets; g1v2 0..9.
  const app: number[] = [30, 1, 0x01, ...le16(0), ...le16(99)];
  for (let i = 0; i < 100; i++) app.push(0x01, ...le32(i * 3));
  app.push(...binaries(0, 9));
  const frames = s.response(0x0000, app, [obj(30, 1, 1, 100), obj(1, 2, 0, 10)], true); // 4 + 505 + 15 = 524: 249 + 249 + 26
  if (frames.length !== 3) throw new Error('3 segments');
  s.send('s2c', [frames[0]!]);
  s.send('s2c', [frames[1]!, frames[2]!]); // the last two segments in one TCP segment
  s.send('c2s', s.confirmResponse());
  return s.done(
    'READ answered by a 524-octet fragment in 3 transport segments (seq 62, 63, 0), the last two in one TCP segment; one record at FIN; then CONFIRM',
  );
}

/** Unsolicited responses from the outstation, confirmed by the master. */
export function dnp3Unsolicited(): Dnp3Scenario {
  const s = new Script('dnp3-unsolicited', 'tcp', T0 + 400, HMI, RTU, 50104, 20000);
  // Null unsolicited response at start-up: IIN 0x8000 (device restart), no objects.
  s.send('s2c', s.unsolicited(0x8000, [], []));
  s.send('c2s', s.confirmUnsolicited());
  // Clear the restart bit: WRITE g80v1, qualifier 0x00, index 7..7, one packed bit 0.
  s.send('c2s', s.request(2, [80, 1, 0x00, 7, 7, 0x00], [obj(80, 1, 0, 1)]));
  s.send('s2c', s.response(0x0000, [], []));
  // Enable unsolicited responses for classes 1-3.
  s.send('c2s', s.request(20, [60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06], [obj(60, 2, 6, 0), obj(60, 3, 6, 0), obj(60, 4, 6, 0)]));
  s.send('s2c', s.response(0x0000, [], []));
  // Events: g2v2 (binary input event with absolute time, 7 octets), qualifier 0x28, 2 events;
  // g32v1 (32-bit analog event, 5 octets), qualifier 0x28, 1 event.
  const t = [0x00, 0x10, 0x20, 0x30, 0x8b, 0x01]; // 48-bit ms time
  const ev = [
    2,
    2,
    0x28,
    ...le16(2),
    ...le16(3),
    0x81,
    ...t,
    ...le16(4),
    0x01,
    ...t,
    32,
    1,
    0x28,
    ...le16(1),
    ...le16(0),
    0x01,
    ...le32(4242),
  ];
  s.send('s2c', s.unsolicited(0x0000, ev, [obj(2, 2, 0x28, 2), obj(32, 1, 0x28, 1)]));
  s.send('c2s', s.confirmUnsolicited());
  return s.done(
    'null unsolicited response (IIN restart) and its confirm, WRITE clearing the restart IIN, ENABLE UNSOLICITED, then an unsolicited response with binary and analog events and its confirm',
  );
}

/** DNP3 over UDP: one datagram may hold several link frames. */
export function dnp3OverUdp(): Dnp3Scenario {
  const s = new Script('dnp3-udp', 'udp', T0 + 500, HMI, RTU, 50105, 20000);
  s.send('c2s', [linkOnly('c2s', CTRL_REQ_LINK_STATUS)]);
  s.send('s2c', [linkOnly('s2c', CTRL_LINK_STATUS)]);
  s.send('c2s', s.request(1, READ_CLASSES, READ_CLASSES_JSON));
  // A 2-segment response in one datagram: 4 + 5 + 5*60 = 309 octets (249 + 60).
  const rsp = s.response(0x0000, analogs(0, 59), [obj(30, 1, 0, 60)]);
  if (rsp.length !== 2) throw new Error('2 segments');
  s.send('s2c', rsp);
  s.send('c2s', s.request(3, crob(3), [CROB_JSON])); // SELECT
  s.send('s2c', s.response(0x0000, crob(3), [CROB_JSON]));
  s.send('c2s', s.request(4, crob(3), [CROB_JSON])); // OPERATE
  s.send('s2c', s.response(0x0000, crob(3), [CROB_JSON]));
  return s.done('UDP to port 20000: link status exchange, READ with a 2-frame response in one datagram, SELECT/OPERATE of a CROB');
}

/** DNP3 on TCP port 20001, found by content. */
export function dnp3Port20001(): Dnp3Scenario {
  const s = new Script('dnp3-port-20001', 'tcp', T0 + 600, HMI, RTU, 50106, 20001);
  s.send('c2s', s.request(1, READ_CLASSES, READ_CLASSES_JSON));
  s.send('s2c', s.response(0x0000, [...analogs(0, 3), ...binaries(0, 1)], [obj(30, 1, 0, 4), obj(1, 2, 0, 2)]));
  s.send('c2s', s.request(5, crob(7), [CROB_JSON])); // DIRECT OPERATE
  s.send('s2c', s.response(0x0000, crob(7), [CROB_JSON]));
  return s.done('a READ and a DIRECT OPERATE exchange with the outstation on TCP port 20001');
}

export const DNP3_SCENARIOS: readonly (() => Dnp3Scenario)[] = [
  dnp3TwoFramesPerSegment,
  dnp3SplitAcrossSegments,
  dnp3BadCrc,
  dnp3MultiFragment,
  dnp3Unsolicited,
  dnp3OverUdp,
  dnp3Port20001,
];
