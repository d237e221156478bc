// IEC 60870-5-104 capture scenarios for end-to-end tests: each function returns
// a pcap and what otwatch must report for it. The expectations are derived
// from how the scenario was built (which APDUs were sent, which bytes the
// capture misses), never from running the dissector.
//
// APDU layout (IEC 60870-5-104 clause 5): 0x68, length, 4 control octets
// (I: N(S)<<1, N(R)<<1 little endian; S: 01 00 N(R)<<1; U: function 00 00 00),
// then for I frames the ASDU: type id, SQ|number, cause (T 0x80, P/N 0x40),
// originator address, common address (2 octets LE), objects with 3-octet IOAs.
import { Clock, toPcap } from '../pcapgen/capture.js';
import { TcpSession } from '../pcapgen/tcp-session.js';

export type ScenarioDir = 'c2s' | 's2c';

/** The "iec104" member of a PDU record (the dissector's pduJson). */
export interface Iec104Json {
  frame: 'I' | 'S' | 'U';
  tx?: number;
  rx?: number;
  u?: 'STARTDT_ACT' | 'STARTDT_CON' | 'STOPDT_ACT' | 'STOPDT_CON' | 'TESTFR_ACT' | 'TESTFR_CON';
  type_id?: number;
  cot?: number;
  neg?: boolean;
  test?: boolean;
  oa?: number;
  ca?: number;
  ioa?: number;
  nobj?: number;
  seq_anomaly?: 'seq_jump' | 'seq_repeat' | 'ack_unsent';
}

export interface ExpectedIec104Pdu {
  /** 1-based number of the packet that carried the APDU's last byte. */
  pkt: number;
  /** That packet's capture time (epoch seconds). */
  ts: number;
  /** The APDU follows a segment the capture missed in the same direction and
   *  no packet of the peer has acknowledged past the hole yet. A stream layer
   *  that holds such data until the hole is acknowledged (or the flow ends)
   *  reports it with the time of that later packet, not `ts`. */
  afterGap: boolean;
  dir: ScenarioDir;
  iec104: Iec104Json;
}

/** The "iec104" member of the flow record (the dissector's flowJson). */
export interface Iec104FlowCounters {
  type_ids: Record<string, number>;
  causes: Record<string, number>;
  commands: number;
  seq_anomalies: number;
  i: number;
  s: number;
  u: number;
}

export interface Iec104Scenario {
  name: string;
  about: string;
  pcap: Buffer;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  /** PDU records in capture order. */
  pdus: ExpectedIec104Pdu[];
  /** Anomalies the dissector reports, in order (stream-layer events such as
   *  gaps and resync bytes are not listed). */
  anomalies: { dir: ScenarioDir; name: string }[];
  flow: Iec104FlowCounters;
}

// ---- APDU builders --------------------------------------------------------

interface Apdu {
  bytes: Buffer;
  json: Iec104Json;
}

const U_CODE = {
  STARTDT_ACT: 0x07,
  STARTDT_CON: 0x0b,
  STOPDT_ACT: 0x13,
  STOPDT_CON: 0x23,
  TESTFR_ACT: 0x43,
  TESTFR_CON: 0x83,
} as const;

function uApdu(u: keyof typeof U_CODE): Apdu {
  return { bytes: Buffer.from([0x68, 4, U_CODE[u], 0, 0, 0]), json: { frame: 'U', u } };
}

function sApdu(nr: number): Apdu {
  return { bytes: Buffer.from([0x68, 4, 0x01, 0, (nr << 1) & 0xff, (nr >> 7) & 0xff]), json: { frame: 'S', rx: nr } };
}

interface Asdu {
  typeId: number;
  cot: number;
  neg?: boolean;
  test?: boolean;
  oa?: number;
  ca: number;
  /** SQ=1: one IOA (the first) then the elements; SQ=0: an IOA per object. */
  sq?: boolean;
  ioas: number[];
  /** Information element octets per object. */
  elems: number[][];
}

function iApdu(ns: number, nr: number, a: Asdu): Apdu {
  const n = a.elems.length;
  const body: number[] = [
    a.typeId,
    (a.sq ? 0x80 : 0) | n,
    (a.test ? 0x80 : 0) | (a.neg ? 0x40 : 0) | a.cot,
    a.oa ?? 0,
    a.ca & 0xff,
    a.ca >> 8,
  ];
  const ioa = (v: number) => body.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
  if (a.sq) ioa(a.ioas[0]!);
  a.elems.forEach((e, k) => {
    if (!a.sq) ioa(a.ioas[k]!);
    body.push(...e);
  });
  const bytes = Buffer.from([0x68, 4 + body.length, (ns << 1) & 0xff, (ns >> 7) & 0xff, (nr << 1) & 0xff, (nr >> 7) & 0xff, ...body]);
  if (bytes.length > 255) throw new Error('APDU longer than 255 octets');
  return {
    bytes,
    json: {
      frame: 'I',
      tx: ns,
      rx: nr,
      type_id: a.typeId,
      cot: a.cot,
      neg: a.neg ?? false,
      test: a.test ?? false,
      oa: a.oa ?? 0,
      ca: a.ca,
      ioa: a.ioas[0]!,
      nobj: n,
    },
  };
}

const f32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...b];
};
/** CP56Time2a for 2023-11-14 22:13:20.000 (ms, min, hour, day|dow<<5, month, year-2000). */
const CP56 = [0x20, 0x4e, 13, 22, 14 | (2 << 5), 11, 23];

// Common ASDUs (type ids and element formats: IEC 60870-5-101 clause 7.3).
const CA = 1;
const C_IC_NA_1 = (cot: number): Asdu => ({ typeId: 100, cot, ca: CA, ioas: [0], elems: [[20]] }); // QOI 20: station
const M_SP_NA_1_SQ = (cot: number, ioa: number, n: number): Asdu => ({
  typeId: 1,
  cot,
  ca: CA,
  sq: true,
  ioas: [ioa],
  elems: Array.from({ length: n }, (_, k) => [k & 1]), // SIQ: SPI
});
const M_ME_NC_1 = (cot: number, points: [number, number][]): Asdu => ({
  typeId: 13,
  cot,
  ca: CA,
  ioas: points.map((p) => p[0]),
  elems: points.map((p) => [...f32(p[1]), 0]), // float + QDS
});
/** 16 objects of M_ME_TF_1 (float + QDS + CP56Time2a): a 250-octet APDU, the largest allowed. */
const M_ME_TF_1_FULL = (cot: number, ioa0: number): Asdu => ({
  typeId: 36,
  cot,
  ca: CA,
  ioas: Array.from({ length: 16 }, (_, k) => ioa0 + k),
  elems: Array.from({ length: 16 }, (_, k) => [...f32(20 + k / 4), 0, ...CP56]),
});
const C_SC_NA_1 = (cot: number, ioa: number, on: boolean): Asdu => ({
  typeId: 45,
  cot,
  ca: CA,
  ioas: [ioa],
  elems: [[on ? 1 : 0]], // SCO: SCS, execute
});

// ---- scenario script --------------------------------------------------------

const idx = (d: ScenarioDir) => (d === 'c2s' ? 0 : 1);
const peerOf = (d: ScenarioDir): ScenarioDir => (d === 'c2s' ? 's2c' : 'c2s');

class Script {
  readonly sess: TcpSession;
  readonly pdus: ExpectedIec104Pdu[] = [];
  readonly anomalies: { dir: ScenarioDir; name: string }[] = [];
  /** Next N(S) per direction, as the sender numbers its I frames. */
  private readonly vs = [0, 0];
  /** A segment from this direction was lost and no packet of the peer has
   *  acknowledged past it yet. */
  private readonly holeOpen = [false, false];

  constructor(
    readonly name: string,
    start: number,
    client: string,
    server: string,
    cport: number,
    sport: number,
    handshake: boolean,
  ) {
    this.sess = new TcpSession({ client, server, cport, sport, clock: new Clock(start, 2_000_000) });
    if (handshake) this.sess.handshake();
  }

  /** An I frame from `dir` with the next N(S) and N(R) acknowledging all the peer sent. */
  i(dir: ScenarioDir, a: Asdu): Apdu {
    const ns = this.vs[idx(dir)]!;
    this.vs[idx(dir)] = (ns + 1) & 0x7fff;
    return iApdu(ns, this.vs[idx(peerOf(dir))]!, a);
  }

  s(dir: ScenarioDir): Apdu {
    return sApdu(this.vs[idx(peerOf(dir))]!);
  }

  /** The sender skips `n` send sequence numbers (its next I frame jumps). */
  skip(dir: ScenarioDir, n: number): void {
    this.vs[idx(dir)] = (this.vs[idx(dir)]! + n) & 0x7fff;
  }

  /**
   * Sends `apdus` back to back from `dir`, cut into segments at `cuts` (byte
   * offsets into their concatenation); segments listed in `lose` are missed by
   * the capture. Every APDU none of whose bytes was lost is expected, completed
   * by the segment holding its last byte.
   */
  send(dir: ScenarioDir, apdus: Apdu[], cuts: number[] = [], lose: number[] = []): void {
    const payload = Buffer.concat(apdus.map((a) => a.bytes));
    const before = this.sess.frames().length;
    // Packets of `dir` acknowledge everything the peer sent, lost bytes included.
    this.holeOpen[idx(peerOf(dir))] = false;
    const holeBefore = this.holeOpen[idx(dir)]!;
    if (lose.length) this.holeOpen[idx(dir)] = true;
    if (cuts.length === 0 && lose.length === 0) this.sess.send(dir, payload);
    else this.sess.segments(dir, payload, cuts, { lose });
    const frames = this.sess.frames();
    const bounds = [0, ...cuts, payload.length];
    // Packet number of each emitted piece, in natural order.
    const pktOf: number[] = [];
    let emitted = 0;
    for (let p = 0; p < bounds.length - 1; p++) pktOf.push(lose.includes(p) ? -1 : before + ++emitted);
    if (before + emitted !== frames.length) throw new Error('segment bookkeeping');
    let off = 0;
    const firstLost = lose.length ? bounds[Math.min(...lose)]! : Infinity;
    for (const a of apdus) {
      const start = off;
      const end = (off += a.bytes.length);
      let lost = false;
      let last = -1;
      for (let p = 0; p < bounds.length - 1; p++) {
        if (bounds[p]! < end && bounds[p + 1]! > start) {
          if (pktOf[p]! < 0) lost = true;
          last = pktOf[p]!;
        }
      }
      if (lost) continue;
      this.pdus.push({ pkt: last, ts: frames[last - 1]!.ts, afterGap: holeBefore || start >= firstLost, dir, iec104: a.json });
      if (a.json.seq_anomaly) this.anomalies.push({ dir, name: a.json.seq_anomaly });
    }
  }

  /** Bytes that are no APDU from the start (e.g. the tail of one begun before the capture). */
  raw(dir: ScenarioDir, bytes: Buffer): void {
    this.holeOpen[idx(peerOf(dir))] = false;
    this.sess.send(dir, bytes);
  }

  done(about: string, close = true): Iec104Scenario {
    if (close) this.sess.close('c2s');
    return {
      name: this.name,
      about,
      pcap: toPcap(this.sess.frames()),
      client: { ip: this.sess.client, port: this.sess.cport },
      server: { ip: this.sess.server, port: this.sess.sport },
      pdus: this.pdus,
      anomalies: this.anomalies,
      flow: countersOf(this.pdus),
    };
  }
}

/** Flow counters implied by the expected PDUs (commands: type ids 45..69, 100..107). */
function countersOf(pdus: ExpectedIec104Pdu[]): Iec104FlowCounters {
  const c: Iec104FlowCounters = { type_ids: {}, causes: {}, commands: 0, seq_anomalies: 0, i: 0, s: 0, u: 0 };
  for (const { iec104: j } of pdus) {
    if (j.frame === 'I') c.i++;
    else if (j.frame === 'S') c.s++;
    else c.u++;
    if (j.seq_anomaly) c.seq_anomalies++;
    if (j.type_id === undefined) continue;
    c.type_ids[j.type_id] = (c.type_ids[j.type_id] ?? 0) + 1;
    c.causes[j.cot!] = (c.causes[j.cot!] ?? 0) + 1;
    if ((j.type_id >= 45 && j.type_id <= 69) || (j.type_id >= 100 && j.type_id <= 107)) c.commands++;
  }
  return c;
}

const T0 = 1_700_000_000;
const HMI = '192.168.104.10';
const RTU = '192.168.104.20';

/** Connection start and a general interrogation (client sends C_IC act). */
function startAndInterrogate(s: Script): void {
  s.send('c2s', [uApdu('STARTDT_ACT')]);
  s.send('s2c', [uApdu('STARTDT_CON')]);
  s.send('c2s', [s.i('c2s', C_IC_NA_1(6))]);
}

// ---- scenarios --------------------------------------------------------------

/** Several APDUs per TCP segment: the interrogation answer in one segment. */
export function iec104SeveralPerSegment(): Iec104Scenario {
  const s = new Script('iec104-several-per-segment', T0, HMI, RTU, 49200, 2404, true);
  startAndInterrogate(s);
  // ActCon, 8 single points (SQ=1), 3 floats, ActTerm: four APDUs in one segment.
  s.send('s2c', [
    s.i('s2c', C_IC_NA_1(7)),
    s.i('s2c', M_SP_NA_1_SQ(20, 1001, 8)),
    s.i(
      's2c',
      M_ME_NC_1(20, [
        [5001, 1.5],
        [5002, -2.25],
        [5003, 230.5],
      ]),
    ),
    s.i('s2c', C_IC_NA_1(10)),
  ]);
  // Client acknowledges and sends a command with a TESTFR in the same segment.
  s.send('c2s', [s.s('c2s'), s.i('c2s', C_SC_NA_1(6, 3001, true)), uApdu('TESTFR_ACT')]);
  s.send('s2c', [s.i('s2c', C_SC_NA_1(7, 3001, true)), uApdu('TESTFR_CON')]);
  s.send('c2s', [s.s('c2s')]);
  return s.done('STARTDT, general interrogation answered with four APDUs in one segment, a command plus S and U frames sharing segments');
}

/** APDUs split across segments, including the largest (250-octet) APDU in three pieces. */
export function iec104SplitAcrossSegments(): Iec104Scenario {
  const s = new Script('iec104-split-across-segments', T0 + 100, HMI, RTU, 49201, 2404, true);
  startAndInterrogate(s);
  // Cut inside the APCI (after 1 and 3 bytes) and inside the ASDU.
  s.send('s2c', [s.i('s2c', C_IC_NA_1(7))], [1, 3]);
  const big = s.i('s2c', M_ME_TF_1_FULL(3, 7001));
  if (big.bytes.length !== 252) throw new Error('M_ME_TF_1 x16 must be a 252-byte APDU');
  s.send('s2c', [big], [100, 200]);
  // Two APDUs cut so that each segment ends inside the next APDU.
  const a = s.i('s2c', M_ME_NC_1(3, [[5001, 12.5]]));
  const b = s.i('s2c', C_IC_NA_1(10));
  s.send('s2c', [a, b], [a.bytes.length - 2, a.bytes.length + 7]);
  s.send('c2s', [s.s('c2s')], [2]);
  return s.done('APDUs split across 2-3 segments, cuts inside the APCI and the ASDU, the 252-byte maximum APDU in three pieces');
}

/** A lost server segment (the capture misses it), then good APDUs. */
export function iec104LostSegment(): Iec104Scenario {
  const s = new Script('iec104-lost-segment', T0 + 200, HMI, RTU, 49202, 2404, true);
  startAndInterrogate(s);
  s.send('s2c', [s.i('s2c', C_IC_NA_1(7))]);
  // Five spontaneous APDUs in three segments; the middle one is lost. It holds
  // the end of A2 and the start of A3, so the third segment begins with the
  // tail of A3 (float 1.5 = 00 00 c0 3f, QDS 0: no 0x68 in it) before A4, A5.
  const apdus = [
    s.i('s2c', M_ME_NC_1(3, [[5001, 1.5]])),
    s.i('s2c', M_ME_NC_1(3, [[5002, 1.5]])),
    s.i('s2c', M_ME_NC_1(3, [[5003, 1.5]])),
    s.i('s2c', M_SP_NA_1_SQ(3, 1001, 2)),
    s.i('s2c', M_ME_NC_1(3, [[5004, 2.5]])),
  ];
  const L = apdus[0]!.bytes.length; // 20: APCI 6 + ASDU header 6 + IOA 3 + float 4 + QDS 1
  s.send('s2c', apdus, [L + 5, 2 * L + 4], [1]);
  s.send('c2s', [s.s('c2s')]);
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5005, 3.5]]))]);
  return s.done(
    'five APDUs in three segments, the middle segment lost: the first, fourth and fifth APDUs are decoded, then the stream continues without sequence anomalies',
  );
}

/** Capture starts mid-connection: no handshake, first segment begins inside an APDU. */
export function iec104MidStream(): Iec104Scenario {
  const s = new Script('iec104-mid-stream', T0 + 300, HMI, RTU, 49203, 2404, false);
  s.skip('s2c', 1200);
  s.skip('c2s', 40);
  // Last 9 bytes of an M_ME_NC_1 begun before the capture: CA high octet,
  // IOA 5001, float 1.5, QDS.
  s.raw('s2c', Buffer.from([0x00, 0x89, 0x13, 0x00, 0x00, 0x00, 0xc0, 0x3f, 0x00]));
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5002, 4.5]])), s.i('s2c', M_SP_NA_1_SQ(3, 1001, 3))]);
  s.send('c2s', [s.s('c2s')]);
  s.send('c2s', [uApdu('TESTFR_ACT')]);
  s.send('s2c', [uApdu('TESTFR_CON')]);
  s.send('c2s', [s.i('c2s', C_SC_NA_1(6, 3001, false))]);
  s.send('s2c', [s.i('s2c', C_SC_NA_1(7, 3001, false)), s.i('s2c', C_SC_NA_1(10, 3001, false))]);
  s.send('c2s', [s.s('c2s')]);
  return s.done(
    'no handshake, sequence numbers already at 1200/40, the first segment starts with the tail of an APDU: it is skipped and the numbering is learned without anomalies',
    false,
  );
}

/** IEC 104 on port 12404: found by content, not by port. */
export function iec104NonStandardPort(): Iec104Scenario {
  const s = new Script('iec104-nonstandard-port', T0 + 400, HMI, RTU, 49204, 12404, true);
  startAndInterrogate(s);
  s.send('s2c', [
    s.i('s2c', C_IC_NA_1(7)),
    s.i(
      's2c',
      M_ME_NC_1(20, [
        [5001, 50.0],
        [5002, 49.75],
      ]),
    ),
    s.i('s2c', C_IC_NA_1(10)),
  ]);
  s.send('c2s', [s.s('c2s')]);
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5001, 50.25]]))]);
  s.send('c2s', [s.s('c2s')]);
  return s.done('a complete IEC 104 session with the server on TCP port 12404');
}

/** The server's N(S) jumps from 3 to 6 (frames 3..5 never sent). */
export function iec104SeqJump(): Iec104Scenario {
  const s = new Script('iec104-seq-jump', T0 + 500, HMI, RTU, 49205, 2404, true);
  startAndInterrogate(s);
  s.send('s2c', [s.i('s2c', C_IC_NA_1(7))]);
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5001, 1.0]]))]);
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5001, 1.25]]))]);
  s.skip('s2c', 3);
  const jumped = s.i('s2c', M_ME_NC_1(3, [[5001, 1.75]]));
  jumped.json.seq_anomaly = 'seq_jump';
  s.send('s2c', [jumped]);
  s.send('s2c', [s.i('s2c', M_ME_NC_1(3, [[5001, 2.0]]))]);
  s.send('c2s', [s.s('c2s')]);
  return s.done('STARTDT, then the server sends I frames N(S) 0,1,2 and continues at 6: one seq_jump on that PDU, nothing after');
}

export const IEC104_SCENARIOS: readonly (() => Iec104Scenario)[] = [
  iec104SeveralPerSegment,
  iec104SplitAcrossSegments,
  iec104LostSegment,
  iec104MidStream,
  iec104NonStandardPort,
  iec104SeqJump,
];
