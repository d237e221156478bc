import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dnp3, MAX_OBJECTS, type Dnp3State } from '../../src/dissectors/dnp3/parser.js';
import { dnp3Crc, dnp3CrcOk } from '../../src/dissectors/dnp3/dnp3-crc.js';
import { C2S, S2C, Probe, type Dir, type ParseCtx, type PduBase } from '../../src/dissectors/types.js';
import { withShared, SHARED_PCAPS } from '../helpers/shared.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface Out {
  pdus: { dir: Dir; json: string }[];
  anomalies: string[];
}

function collector(out: Out): ParseCtx {
  return {
    ts: 0,
    need: 0,
    emit(dir: Dir, pdu: PduBase) {
      out.pdus.push({ dir, json: dnp3.pduJson(pdu as never) });
    },
    anomaly(_dir: Dir, name: string) {
      out.anomalies.push(name);
    },
  };
}

/** One parse call on exactly `buf`. */
function parseOnce(buf: Buffer, dir: Dir = C2S, st: Dnp3State = dnp3.createState()) {
  const out: Out = { pdus: [], anomalies: [] };
  const ctx = collector(out);
  const r = dnp3.parse(st, buf, 0, buf.length, dir, ctx);
  return { r, need: ctx.need, out, st, json: out.pdus.map((p) => JSON.parse(p.json)) };
}

/**
 * A tiny stand-in for the stream layer: keeps the leftover, waits for
 * ctx.need bytes, and on -1 resynchronises with probe.
 */
function drive(chunks: Buffer[], dir: Dir = C2S, st: Dnp3State = dnp3.createState(), out?: Out) {
  out ??= { pdus: [], anomalies: [] };
  const ctx = collector(out);
  let pending = Buffer.alloc(0);
  let need = 0;
  for (const c of chunks) {
    pending = Buffer.concat([pending, c]);
    if (pending.length < need) continue;
    need = 0;
    while (pending.length > 0) {
      ctx.need = 0;
      const r = dnp3.parse(st, pending, 0, pending.length, dir, ctx);
      if (r === -1) {
        let k = 1;
        for (; k < pending.length; k++) {
          if (dnp3.probe(pending, k, pending.length - k, dir) !== Probe.NoMatch) break;
        }
        pending = pending.subarray(k);
        continue;
      }
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(pending.length);
      pending = pending.subarray(r);
      if (ctx.need > 0) {
        expect(ctx.need).toBeLessThanOrEqual(dnp3.maxPdu);
        expect(ctx.need).toBeGreaterThan(pending.length);
        need = ctx.need;
        break;
      }
      expect(r).toBeGreaterThan(0); // a call that consumed nothing must ask for more
    }
  }
  return { out, st, pending };
}

// Independent frame builder (only the CRC is shared with the code under test,
// and the CRC is checked against the standard check value and real frames).
function linkFrame(ctrl: number, dst: number, src: number, user: Buffer): Buffer {
  const h = Buffer.from([0x05, 0x64, 5 + user.length, ctrl, dst & 0xff, dst >> 8, src & 0xff, src >> 8]);
  const parts = [h, crcLe(h)];
  for (let i = 0; i < user.length; i += 16) {
    const blk = user.subarray(i, i + 16);
    parts.push(blk, crcLe(blk));
  }
  return Buffer.concat(parts);
}
function crcLe(b: Buffer): Buffer {
  const c = dnp3Crc(b, 0, b.length);
  return Buffer.from([c & 0xff, c >> 8]);
}
/** Splits an application fragment into transport segments of <= seg bytes. */
function segments(app: Buffer, ctrl: number, dst: number, src: number, seq0 = 0, seg = 249): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, s = seq0; i < app.length; i += seg, s++) {
    const fir = i === 0 ? 0x40 : 0;
    const fin = i + seg >= app.length ? 0x80 : 0;
    out.push(linkFrame(ctrl, dst, src, Buffer.concat([Buffer.from([fin | fir | (s & 0x3f)]), app.subarray(i, i + seg)])));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Real frames (zeek/Traces/dnp3), with tshark 4.0's decode.

// dnp3_read.pcap frame 4, master 3 -> outstation 2: ctrl 0xc4 (DIR, PRM,
// Unconfirmed User Data), transport 0xc7 (FIR, FIN, seq 7), app 0xc8 (FIR,
// FIN, seq 8) Read: 0x3c02, 0x3c03, 0x3c04, 0x3c01, each qualifier 0x06
// ("No Range Field", Number of Items: 0).
const READ_REQ = '056414c4020003004503c7c8013c02063c03063c04063c010642ac';
// dnp3_read.pcap frame 6, outstation 2 -> master 3: ctrl 0x44 (PRM, Unconfirmed
// User Data), Response (0x81), IIN 0x0000; 0x0102 (8-bit start/stop, 9 items),
// 0x0a02 (8-bit start/stop, 7 items), 0x1e01 (8-bit start/stop, 15 items).
const READ_RSP =
  '05647444030002006854f4c88100000102000008810181010101d3740101010a02000006000000000000011e6ca401' +
  '00000e01ef030000010300000001ed2178030000012bd1ffff01ed03000001e62e41c9000001170d0200000000000001' +
  'b50c02c650000000000000018a0d020000000000000693000000000000000000000000000000ffff';
// dnp3_link_only.pcap frame 1, from 1 to 100: ctrl 0x49 (PRM, Request Link Status, fc 9), no data.
const LINK_STATUS_REQ = '05640549640001007e5f';
// dnp3_link_only.pcap frame 2, from 100 to 1: ctrl 0x8b (DIR, Status of Link, fc 11).
const LINK_STATUS = '0564058b01006400a097';
// dnp3.pcap frame 40, outstation 4 -> master 3: app 0xf3 (FIR, FIN, CON, UNS, seq 3)
// Unsolicited Response (0x82), IIN 0x0000; 0x3301 qualifier 0x07 (8-bit quantity, 1),
// 0x0203 qualifier 0x28 (2-octet index, 16-bit quantity, 5), 0x2001 qualifier 0x28 (3).
const UNSOL =
  '05644c4403000400d86bccf382000033010701e2437d87ff0002f8c3032805000000010000010081000002005989' +
  '810000000081f303010001f3032001283b4603000000010000000001000100000000e8b9020001000000003d62';
// dnp3_select_operate.pcap frame 4: Select (0x03), 0x0c01 qualifier 0x28, 1 item.
const SELECT = '05641ac40200030040f2c6c7030c0128010001000301640000008fda6400000000005b';
// dnp3_udp_select_operate.pcap frames 6, 7, 8 (UDP, outstation 1 -> master 100):
// transport 0x72 (FIR, seq 50), 0x33 (seq 51), 0xb4 (FIN, seq 52). tshark shows
// the reassembled fragment at frame 8: Response (0x81), IIN 0x9000, 0x0a02
// qualifier 0x01 (16-bit start/stop), 512 items.
const ONES = '01010101010101010101010101010101bbc3';
const UDP_SEG1 = `0564ff4464000100ff2f72cb8190000a02010000ff0101810101bcb8${ONES.repeat(14)}010101010101010101018d7b`;
const UDP_SEG2 = '0564ff4464000100ff2f330101010101010101010101010101013df5' + ONES.repeat(14) + '010101010101010101018d7b';
const UDP_SEG3 = '05641f44640001008361b4010101010101010101010101010101ec6f010101010101010101018d7b';
// ITI-ICS-Security-Tools direct_operate_crob_malform_but_good_crc.pcap: Direct
// Operate, 0x0c01 qualifier 0x28, quantity 2 but one CROB; tshark: "Malformed Packet".
const CROB_MALFORMED = '05641ac404000300c2e6e2ca050c01280200010002016400000057ab6400000000005b';

const readReqJson = {
  src: 3,
  dst: 2,
  link_fc: 4,
  fc: 1,
  iin: null,
  uns: false,
  objects: [
    { group: 60, variation: 2, qualifier: 6, count: 0 },
    { group: 60, variation: 3, qualifier: 6, count: 0 },
    { group: 60, variation: 4, qualifier: 6, count: 0 },
    { group: 60, variation: 1, qualifier: 6, count: 0 },
  ],
  crc_ok: true,
};
const readRspJson = {
  src: 2,
  dst: 3,
  link_fc: 4,
  fc: 129,
  iin: 0,
  uns: false,
  objects: [
    { group: 1, variation: 2, qualifier: 0, count: 9 },
    { group: 10, variation: 2, qualifier: 0, count: 7 },
    { group: 30, variation: 1, qualifier: 0, count: 15 },
  ],
  crc_ok: true,
};

describe('dnp3 CRC', () => {
  it('gives the CRC-16/DNP check value 0xEA82 for "123456789"', () => {
    expect(dnp3Crc(Buffer.from('123456789'), 0, 9)).toBe(0xea82);
  });
  it('matches the header and block CRCs of a real frame (tshark: header checksum 0x0345, chunk 0xac42)', () => {
    const f = hex(READ_REQ);
    expect(dnp3Crc(f, 0, 8)).toBe(0x0345);
    expect(dnp3Crc(f, 10, 15)).toBe(0xac42);
    expect(dnp3CrcOk(f, 0, 8)).toBe(true);
    f[4] ^= 1;
    expect(dnp3CrcOk(f, 0, 8)).toBe(false);
  });
  it('builds the same bytes as the real capture (checks the test frame builder)', () => {
    // READ_REQ user data is c7 c8 01 3c02 06 3c03 06 3c04 06 3c01 06.
    const built = linkFrame(0xc4, 2, 3, hex('c7c8013c02063c03063c04063c0106'));
    expect(built.toString('hex')).toBe(READ_REQ);
  });
});

describe('dnp3 contract', () => {
  it('declares name, transports, ports and the exact maximum frame size', () => {
    expect(dnp3.name).toBe('dnp3');
    expect(dnp3.tcp).toBe(true);
    expect(dnp3.udp).toBe(true);
    expect(dnp3.ports).toEqual([20000]);
    // 10-byte header + 250 user bytes + 16 block CRCs of 2 bytes.
    expect(dnp3.maxPdu).toBe(10 + 250 + 2 * 16);
    expect(dnp3.minProbe).toBe(10);
    // LEN 255 frame: exactly maxPdu bytes
    const f = linkFrame(0x44, 1, 2, Buffer.concat([Buffer.from([0x40]), Buffer.alloc(249)]));
    expect(f.length).toBe(292);
    const { r } = parseOnce(f);
    expect(r).toBe(292);
  });
});

describe('dnp3 parse: real frames', () => {
  it('decodes a read request with class object headers', () => {
    const { r, need, json, out } = parseOnce(hex(READ_REQ));
    expect(r).toBe(27);
    expect(need).toBe(0);
    expect(json).toEqual([readReqJson]);
    expect(out.anomalies).toEqual([]);
    expect(out.pdus[0].json).toBe(
      '{"src":3,"dst":2,"link_fc":4,"fc":1,"iin":null,"uns":false,"objects":[' +
        '{"group":60,"variation":2,"qualifier":6,"count":0},{"group":60,"variation":3,"qualifier":6,"count":0},' +
        '{"group":60,"variation":4,"qualifier":6,"count":0},{"group":60,"variation":1,"qualifier":6,"count":0}],' +
        '"crc_ok":true}',
    );
  });

  it('decodes a response: IIN and ranged objects, walking their data', () => {
    const { r, json, out } = parseOnce(hex(READ_RSP), S2C);
    expect(r).toBe(135);
    expect(json).toEqual([readRspJson]);
    expect(out.anomalies).toEqual([]);
  });

  it('decodes select with a 2-octet index prefix and 16-bit quantity', () => {
    const { json } = parseOnce(hex(SELECT));
    expect(json).toEqual([
      {
        src: 3,
        dst: 2,
        link_fc: 4,
        fc: 3,
        iin: null,
        uns: false,
        objects: [{ group: 12, variation: 1, qualifier: 0x28, count: 1 }],
        crc_ok: true,
      },
    ]);
  });

  it('decodes an unsolicited response (uns true)', () => {
    const { json, st } = parseOnce(hex(UNSOL), S2C);
    expect(json).toEqual([
      {
        src: 4,
        dst: 3,
        link_fc: 4,
        fc: 130,
        iin: 0,
        uns: true,
        objects: [
          { group: 51, variation: 1, qualifier: 0x07, count: 1 },
          { group: 2, variation: 3, qualifier: 0x28, count: 5 },
          { group: 32, variation: 1, qualifier: 0x28, count: 3 },
        ],
        crc_ok: true,
      },
    ]);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ fc: { 130: 1 }, unsolicited: 1, fragments: 1 });
  });

  it('emits link-only frames with fc and iin null and no objects member', () => {
    const a = parseOnce(hex(LINK_STATUS_REQ), S2C);
    expect(a.r).toBe(10);
    expect(a.out.pdus[0].json).toBe('{"src":1,"dst":100,"link_fc":9,"fc":null,"iin":null,"uns":false,"crc_ok":true}');
    const b = parseOnce(hex(LINK_STATUS), C2S);
    expect(b.json).toEqual([{ src: 100, dst: 1, link_fc: 11, fc: null, iin: null, uns: false, crc_ok: true }]);
    expect(JSON.parse(dnp3.flowJson(b.st))).toMatchObject({ fc: {}, link_only: 1, link_frames: 1, fragments: 0 });
  });

  it('parses two frames in one buffer', () => {
    const { r, json } = parseOnce(Buffer.concat([hex(READ_REQ), hex(LINK_STATUS)]));
    expect(r).toBe(37);
    expect(json.map((j) => j.fc)).toEqual([1, null]);
    expect(json[0]).toEqual(readReqJson);
  });

  it('reassembles a real 3-segment fragment (UDP datagrams) into one PDU at FIN', () => {
    const st = dnp3.createState();
    const a = parseOnce(hex(UDP_SEG1), S2C, st);
    expect(a.r).toBe(292);
    expect(a.json).toEqual([]);
    const b = parseOnce(hex(UDP_SEG2), S2C, st);
    expect(b.json).toEqual([]);
    const c = parseOnce(hex(UDP_SEG3), S2C, st);
    expect(c.json).toEqual([
      {
        src: 1,
        dst: 100,
        link_fc: 4,
        fc: 129,
        iin: 0x9000,
        uns: false,
        objects: [{ group: 10, variation: 2, qualifier: 1, count: 512 }],
        crc_ok: true,
      },
    ]);
    expect([...a.out.anomalies, ...b.out.anomalies, ...c.out.anomalies]).toEqual([]);
    expect(JSON.parse(dnp3.flowJson(st))).toEqual({
      fc: { 129: 1 },
      crc_errors: 0,
      link_frames: 3,
      link_only: 0,
      segments: 3,
      fragments: 1,
      unsolicited: 0,
      dropped_fragments: 0,
    });
  });

  it('walks device attributes (g0: type, length, value)', () => {
    // ITI dataset_exchange.pcap frame 2; tshark: Response, IIN 0x0000, 0x00d5
    // (8-bit start/stop, 1 item, UINT length 4), 0x00d7 (same).
    const { json, out } = parseOnce(hex('056420440300040095e3c8c581000000d5000000020401000000607a00d7000000020403000000789f'), S2C);
    expect(json).toEqual([
      {
        src: 4,
        dst: 3,
        link_fc: 4,
        fc: 129,
        iin: 0,
        uns: false,
        objects: [
          { group: 0, variation: 213, qualifier: 0, count: 1 },
          { group: 0, variation: 215, qualifier: 0, count: 1 },
        ],
        crc_ok: true,
      },
    ]);
    expect(out.anomalies).toEqual([]);
  });

  it('flags an object count larger than its data (malformed_object), keeps the header', () => {
    const { json, out } = parseOnce(hex(CROB_MALFORMED));
    expect(json).toEqual([
      {
        src: 3,
        dst: 4,
        link_fc: 4,
        fc: 5,
        iin: null,
        uns: false,
        objects: [{ group: 12, variation: 1, qualifier: 0x28, count: 2 }],
        objects_truncated: true,
        crc_ok: true,
      },
    ]);
    expect(out.anomalies).toEqual(['malformed_object']);
  });
});

describe('dnp3 parse: framing', () => {
  it('asks for the header, then the whole frame, counted from the first unconsumed byte', () => {
    const f = hex(READ_RSP);
    expect(parseOnce(f.subarray(0, 2)).need).toBe(10);
    const p = parseOnce(f.subarray(0, 12));
    expect(p.r).toBe(0);
    expect(p.need).toBe(135); // LEN 0x74 = 116: 111 user bytes, 7 blocks -> 10 + 111 + 14
    const two = Buffer.concat([hex(LINK_STATUS), f.subarray(0, 50)]);
    const q = parseOnce(two);
    expect(q.r).toBe(10);
    expect(q.need).toBe(135);
  });

  it('gives the same PDUs when a stream is split at every offset', () => {
    const stream = Buffer.concat([hex(LINK_STATUS), hex(READ_RSP), hex(UDP_SEG1), hex(UDP_SEG2), hex(UDP_SEG3), hex(UNSOL)]);
    const whole = drive([stream], S2C).out;
    expect(whole.pdus.map((p) => JSON.parse(p.json).fc)).toEqual([null, 129, 129, 130]);
    for (let i = 1; i < stream.length; i++) {
      const split = drive([stream.subarray(0, i), stream.subarray(i)], S2C).out;
      expect(split).toEqual(whole);
    }
    // and byte by byte
    const bytes: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    expect(drive(bytes, S2C).out).toEqual(whole);
  });

  it('returns -1 with bad_start on a bad start byte, and what it parsed before it', () => {
    const bad = hex('050511c40400030046a2c2c2143c02063c03063c0406d32f'); // dnp3.pcap frame 19: 05 05
    const a = parseOnce(bad);
    expect(a.r).toBe(-1);
    expect(a.out.anomalies).toEqual(['bad_start']);
    const b = parseOnce(Buffer.concat([hex(LINK_STATUS), bad]));
    expect(b.r).toBe(10);
    expect(b.out.anomalies).toEqual([]);
    expect(parseOnce(hex('01')).r).toBe(-1);
  });

  it('returns -1 with invalid_length when LEN < 5', () => {
    const a = parseOnce(hex('056404c4020003004503'));
    expect(a.r).toBe(-1);
    expect(a.out.anomalies).toEqual(['invalid_length']);
  });

  it('emits crc_ok:false for a bad header CRC, counts it, and advances by the declared size', () => {
    const f = hex(READ_REQ);
    f[8] ^= 0xff; // header CRC
    const { r, json, out, st } = parseOnce(Buffer.concat([f, hex(LINK_STATUS)]));
    expect(r).toBe(37);
    expect(json).toEqual([
      { src: 3, dst: 2, link_fc: 4, fc: null, iin: null, uns: false, crc_ok: false },
      { src: 100, dst: 1, link_fc: 11, fc: null, iin: null, uns: false, crc_ok: true },
    ]);
    expect(out.anomalies).toEqual(['bad_crc']);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ crc_errors: 1, link_frames: 2, fragments: 0 });
  });

  it('emits crc_ok:false for a bad data-block CRC and drops the fragment in progress', () => {
    const rsp = hex(READ_RSP);
    rsp[30] ^= 0x01; // inside data block 2
    const r = parseOnce(rsp, S2C);
    expect(r.r).toBe(135);
    expect(r.json).toEqual([{ src: 2, dst: 3, link_fc: 4, fc: null, iin: null, uns: false, crc_ok: false }]);
    expect(r.out.anomalies).toEqual(['bad_crc']);

    // Middle segment of a 3-segment fragment corrupted: the fragment is dropped
    // and its FIN segment is discarded quietly; the next fragment decodes.
    const st = dnp3.createState();
    const seg2 = hex(UDP_SEG2);
    seg2[100] ^= 0x80;
    const out = drive([hex(UDP_SEG1), seg2, hex(UDP_SEG3), hex(READ_RSP)], S2C, st).out;
    expect(out.pdus.map((p) => JSON.parse(p.json))).toEqual([
      { src: 1, dst: 100, link_fc: 4, fc: null, iin: null, uns: false, crc_ok: false },
      readRspJson,
    ]);
    expect(out.anomalies).toEqual(['bad_crc']);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ crc_errors: 1, dropped_fragments: 1, fragments: 1 });

    // Corrupted FIR segment: nothing was in progress, and the orphaned
    // segments after it are not reported again as out of sequence.
    const seg1 = hex(UDP_SEG1);
    seg1[40] ^= 0x04;
    const o2 = drive([seg1, hex(UDP_SEG2), hex(UDP_SEG3), hex(READ_RSP)], S2C).out;
    expect(o2.anomalies).toEqual(['bad_crc']);
    expect(o2.pdus.map((p) => JSON.parse(p.json).fc)).toEqual([null, 129]);
  });
});

describe('dnp3 transport reassembly', () => {
  // A response of 600 bytes: g30v1 with 8-bit start/stop 0..118 (119 points x 5 bytes = 595).
  const app = Buffer.concat([hex('e2 81 0000 1e 01 00 00 76'), Buffer.alloc(595, 0x11)]);
  const expected = {
    src: 10,
    dst: 1,
    link_fc: 4,
    fc: 129,
    iin: 0,
    uns: false,
    objects: [{ group: 30, variation: 1, qualifier: 0, count: 119 }],
    crc_ok: true,
  };

  it('joins FIR..FIN over several link frames, at any split of the stream', () => {
    expect(app.length).toBe(604);
    const frames = segments(app, 0x44, 1, 10, 62); // sequence numbers wrap: 62, 63, 0
    expect(frames.length).toBe(3);
    const stream = Buffer.concat(frames);
    const whole = drive([stream], S2C);
    expect(whole.out.pdus.map((p) => JSON.parse(p.json))).toEqual([expected]);
    expect(whole.out.anomalies).toEqual([]);
    for (let i = 1; i < stream.length; i += 7) {
      expect(drive([stream.subarray(0, i), stream.subarray(i)], S2C).out).toEqual(whole.out);
    }
  });

  it('keeps the two directions apart', () => {
    const st = dnp3.createState();
    const out: Out = { pdus: [], anomalies: [] };
    const frames = segments(app, 0x44, 1, 10);
    drive([frames[0], frames[1]], S2C, st, out);
    drive([hex(READ_REQ)], C2S, st, out);
    drive([frames[2]], S2C, st, out);
    expect(out.pdus.map((p) => [p.dir, JSON.parse(p.json).fc])).toEqual([
      [C2S, 1],
      [S2C, 129],
    ]);
  });

  it('ignores a repeated segment (link-layer retry)', () => {
    const f = segments(app, 0x44, 1, 10);
    const { out } = drive([f[0], f[0], f[1], f[1], f[2]], S2C);
    expect(out.pdus.map((p) => JSON.parse(p.json))).toEqual([expected]);
    expect(out.anomalies).toEqual([]);
  });

  it('restarts on an out-of-sequence segment and reports it once', () => {
    const f = segments(app, 0x44, 1, 10, 0);
    const g = segments(app, 0x44, 1, 10, 5);
    const { out, st } = drive([f[0], g[1], f[2], ...g], S2C); // seq 0, then 6 (expected 1)
    expect(out.anomalies).toEqual(['out_of_sequence']);
    expect(out.pdus.map((p) => JSON.parse(p.json))).toEqual([expected]);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ segments: 6, fragments: 1, dropped_fragments: 1 });
  });

  it('reports a non-FIR segment with nothing in progress, and a FIR before the previous FIN', () => {
    const f = segments(app, 0x44, 1, 10);
    expect(drive([f[1]], S2C).out.anomalies).toEqual(['out_of_sequence']);
    const other = segments(app, 0x44, 1, 10, 20);
    const { out } = drive([other[0], ...f], S2C);
    expect(out.anomalies).toEqual(['fragment_incomplete']);
    expect(out.pdus.length).toBe(1);
  });

  it('drops a fragment over 4096 bytes (fragment_too_long), then recovers at the next FIR', () => {
    const big = Buffer.concat([hex('c0 81 0000'), Buffer.alloc(4100, 0)]);
    const { out, st } = drive([...segments(big, 0x44, 1, 10), ...segments(app, 0x44, 1, 10)], S2C);
    expect(out.anomalies).toEqual(['fragment_too_long']);
    expect(out.pdus.map((p) => JSON.parse(p.json))).toEqual([expected]);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ dropped_fragments: 1, fragments: 1 });
  });

  it('accepts a fragment of exactly 4096 bytes', () => {
    const max = Buffer.concat([hex('c0 81 0000'), Buffer.alloc(4092, 0)]);
    const { out } = drive(segments(max, 0x44, 1, 10), S2C);
    expect(out.anomalies).toEqual([]);
    expect(JSON.parse(out.pdus[0].json)).toMatchObject({ fc: 129, iin: 0, objects_truncated: true });
  });

  it('gap() drops the partial fragment of that direction only, quietly', () => {
    const st = dnp3.createState();
    const f = segments(app, 0x44, 1, 10);
    const out: Out = { pdus: [], anomalies: [] };
    drive([f[0]], S2C, st, out);
    drive([segments(app, 0xc4, 10, 1)[0]], C2S, st, out);
    dnp3.gap(st, S2C, 100);
    drive([f[1], f[2]], S2C, st, out);
    drive(segments(app, 0xc4, 10, 1).slice(1), C2S, st, out);
    expect(out.anomalies).toEqual([]);
    expect(out.pdus.map((p) => p.dir)).toEqual([C2S]);
    expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ dropped_fragments: 1 });
  });
});

describe('dnp3 application layer', () => {
  const one = (appHex: string, ctrl = 0xc4) => {
    const r = parseOnce(linkFrame(ctrl, 1, 2, Buffer.concat([hex('c0'), hex(appHex)])));
    return { json: r.json[0], anomalies: r.out.anomalies };
  };

  it('stops at the first object of unknown size and says so', () => {
    // response: g1v2 start 0 stop 1 (2 bytes), g7v1 (no such group: size unknown) + data, g1v2
    const { json, anomalies } = one('c0 81 0000 010200 0001 8181 070100 0000 00 0000 010200 0000 81', 0x44);
    expect(json.objects).toEqual([
      { group: 1, variation: 2, qualifier: 0, count: 2 },
      { group: 7, variation: 1, qualifier: 0, count: 1 },
    ]);
    expect(json.objects_truncated).toBe(true);
    expect(anomalies).toEqual([]);
  });

  it('does not flag truncation when the unknown-size header is last and nothing follows', () => {
    const { json } = one('c0 81 0000 070107 01', 0x44);
    expect(json.objects).toEqual([{ group: 7, variation: 1, qualifier: 7, count: 1 }]);
    expect(json.objects_truncated).toBeUndefined();
  });

  it('walks packed bits, octet strings, size prefixes and 4-byte ranges', () => {
    // g1v1 0..9 packed: 2 bytes; g110v3 count 2 (2*3 bytes); g70v4 0x5b count 1 size 2;
    // g30v2 32-bit start/stop 1..1 (3 bytes); g80v1 7..7 packed (1 byte)
    const { json, anomalies } = one(
      'c0 81 0000 010100 0009 ffff 6e0307 02 616263 646566 46045b 01 0200 abcd 1e0202 01000000 01000000 010000' + ' 500100 0707 00',
      0x44,
    );
    expect(anomalies).toEqual([]);
    expect(json.objects).toEqual([
      { group: 1, variation: 1, qualifier: 0x00, count: 10 },
      { group: 110, variation: 3, qualifier: 0x07, count: 2 },
      { group: 70, variation: 4, qualifier: 0x5b, count: 1 },
      { group: 30, variation: 2, qualifier: 0x02, count: 1 },
      { group: 80, variation: 1, qualifier: 0x00, count: 1 },
    ]);
    expect(json.objects_truncated).toBeUndefined();
  });

  it('reads headers only in READ, but g50 data in freeze-at-time', () => {
    const read = one('c1 01 1e00 00 00 05 0101 06');
    expect(read.json.objects).toEqual([
      { group: 30, variation: 0, qualifier: 0, count: 6 },
      { group: 1, variation: 1, qualifier: 6, count: 0 },
    ]);
    // fc 11: g50v2 time+interval (10 bytes) then g20v0 all
    const frz = one('c1 0b 320207 01 00000000000000000000 140006');
    expect(frz.json.objects).toEqual([
      { group: 50, variation: 2, qualifier: 7, count: 1 },
      { group: 20, variation: 0, qualifier: 6, count: 0 },
    ]);
    expect(frz.anomalies).toEqual([]);
  });

  it('caps the object list at MAX_OBJECTS', () => {
    const { json } = one(`c1 01${'3c0106'.repeat(40)}`);
    expect(json.objects.length).toBe(MAX_OBJECTS);
    expect(json.objects_truncated).toBe(true);
  });

  it('does not walk objects of unknown function codes', () => {
    const { json } = one('c1 50 3c0106');
    expect(json).toMatchObject({ fc: 0x50, objects_truncated: true });
    expect(json.objects).toBeUndefined();
  });

  it('reports app_too_short for a 1-byte fragment and a response without IIN', () => {
    expect(one('c0').anomalies).toEqual(['app_too_short']);
    expect(one('c0').json).toBeUndefined();
    const r = one('c0 81 00', 0x44);
    expect(r.anomalies).toEqual(['app_too_short']);
    expect(r.json).toMatchObject({ fc: 129, iin: null });
  });

  it('reports malformed_object for a truncated header and for stop < start', () => {
    expect(one('c1 01 3c').anomalies).toEqual(['malformed_object']);
    const r = one('c0 81 0000 010200 0500', 0x44);
    expect(r.anomalies).toEqual(['malformed_object']);
    expect(r.json.objects).toEqual([{ group: 1, variation: 2, qualifier: 0, count: 0 }]);
  });

  it('reports a reserved link function code and does not decode its data', () => {
    // opendnp3 conformance 6.6.2.2 frame 14; tshark: "Control: 0xc5 (DIR, PRM,
    // Unknown function (0x05))", From: 1, To: 1024, with a Read of 0x3c01 inside.
    const r = parseOnce(hex('05640bc500040100cca9c0c0013c0106ff50'));
    expect(r.json).toEqual([{ src: 1, dst: 1024, link_fc: 5, fc: null, iin: null, uns: false, crc_ok: true }]);
    expect(r.out.anomalies).toEqual(['unknown_link_fc']);
    // secondary (PRM 0) 11 is defined, 3 is not
    expect(parseOnce(linkFrame(0x0b, 1, 2, Buffer.alloc(0))).out.anomalies).toEqual([]);
    expect(parseOnce(linkFrame(0x03, 1, 2, Buffer.alloc(0))).out.anomalies).toEqual(['unknown_link_fc']);
  });

  it('treats a user-data link frame without transport byte as link-only with empty_user_data', () => {
    const r = parseOnce(linkFrame(0xc4, 1, 2, Buffer.alloc(0)));
    expect(r.json).toEqual([{ src: 2, dst: 1, link_fc: 4, fc: null, iin: null, uns: false, crc_ok: true }]);
    expect(r.out.anomalies).toEqual(['empty_user_data']);
  });
});

describe('dnp3 probe', () => {
  it('answers NeedMore, NoMatch, Match and MatchReversed strictly', () => {
    const req = hex(READ_REQ); // DIR = 1: from the master
    const rsp = hex(READ_RSP); // DIR = 0: from the outstation
    expect(dnp3.probe(req, 0, 0, C2S)).toBe(Probe.NeedMore);
    expect(dnp3.probe(req, 0, 9, C2S)).toBe(Probe.NeedMore);
    expect(dnp3.probe(req, 0, 10, C2S)).toBe(Probe.Match);
    expect(dnp3.probe(req, 0, 10, S2C)).toBe(Probe.MatchReversed);
    expect(dnp3.probe(rsp, 0, 10, S2C)).toBe(Probe.Match);
    expect(dnp3.probe(rsp, 0, 10, C2S)).toBe(Probe.MatchReversed);
    expect(dnp3.probe(hex('0565'), 0, 2, C2S)).toBe(Probe.NoMatch);
    expect(dnp3.probe(hex('056404'), 0, 3, C2S)).toBe(Probe.NoMatch);
    const bad = Buffer.from(req);
    bad[9] ^= 1;
    expect(dnp3.probe(bad, 0, 10, C2S)).toBe(Probe.NoMatch);
  });

  it('finds the next frame after garbage, at the right offset only', () => {
    // the third candidate is dnp3.pcap frame 4's header with one CRC bit flipped
    const garbage = hex('00 0564ff 05 00 64 0564 0a 44 03 00 04 00 7c af 0102 0564');
    const buf = Buffer.concat([garbage, hex(READ_REQ)]);
    const hits: number[] = [];
    for (let k = 0; k < buf.length; k++) {
      const p = dnp3.probe(buf, k, buf.length - k, C2S);
      if (p === Probe.Match || p === Probe.MatchReversed) hits.push(k);
    }
    expect(hits).toEqual([garbage.length]);
    // and the driver resyncs there
    const { out } = drive([buf], C2S);
    expect(out.anomalies[0]).toBe('bad_start');
    expect(out.pdus.map((p) => JSON.parse(p.json))).toEqual([readReqJson]);
  });
});

describe('dnp3 robustness', () => {
  // xorshift32, fixed seed: reproducible
  let seed = 0x2545f491;
  const rnd = () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const randBuf = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = rnd() & 0xff;
    return b;
  };
  /** A CRC-valid frame with random control/transport/application bytes. */
  const randFrame = () => {
    const n = rnd() % 251;
    const user = randBuf(n);
    if (n >= 3 && rnd() & 1) user[2] = [1, 2, 5, 11, 20, 25, 129, 130, 131][rnd() % 9];
    return linkFrame(rnd() & 1 ? 0xc4 : rnd() & 0xff, rnd() & 0xffff, rnd() & 0xffff, user);
  };

  it('never throws, never over-consumes, on 100 000 random buffers', () => {
    const st = dnp3.createState();
    const out: Out = { pdus: [], anomalies: [] };
    const ctx = collector(out);
    let withObjects = 0;
    for (let i = 0; i < 100_000; i++) {
      let buf: Buffer;
      const kind = i % 4;
      if (kind === 0) buf = randBuf(rnd() % 400);
      else if (kind === 1) buf = Buffer.concat([randFrame(), randFrame()]);
      else if (kind === 2) {
        buf = randFrame();
        if (buf.length) buf[rnd() % buf.length] ^= 1 << (rnd() % 8); // one bit flip
      } else {
        buf = Buffer.concat([hex('0564'), randBuf(rnd() % 300)]);
      }
      const off = buf.length && (kind === 0 || kind === 3) ? rnd() % Math.min(buf.length, 4) : 0;
      const len = buf.length - off;
      ctx.need = 0;
      const dir: Dir = rnd() & 1 ? C2S : S2C;
      const r = dnp3.parse(st, buf, off, len, dir, ctx);
      // plain checks: expect() per iteration would dominate the run time
      if (!(r >= -1 && r <= len)) throw new Error(`parse returned ${r} for ${buf.toString('hex')}`);
      if (!(ctx.need >= 0 && ctx.need <= dnp3.maxPdu)) throw new Error(`need ${ctx.need}`);
      if (ctx.need > 0 && !(r >= 0 && ctx.need > len - r)) throw new Error(`need ${ctx.need} with ${len - r} left`);
      const p = dnp3.probe(buf, off, len, dir);
      if (p !== Probe.NoMatch && p !== Probe.Match && p !== Probe.MatchReversed && p !== Probe.NeedMore) {
        throw new Error(`probe returned ${p}`);
      }
      if (i % 1000 === 0) dnp3.gap(st, dir, -1);
      if (out.pdus.length > 1000) {
        for (const q of out.pdus) {
          const j = JSON.parse(q.json);
          if (j.objects) withObjects++;
        }
        out.pdus.length = 0;
      }
    }
    for (const q of out.pdus) JSON.parse(q.json);
    const flow = JSON.parse(dnp3.flowJson(st));
    // the generator reaches the application layer, not just the framing checks
    expect(flow.fragments).toBeGreaterThan(5000);
    expect(flow.crc_errors).toBeGreaterThan(5000);
    expect(withObjects).toBeGreaterThan(1000);
    expect(new Set(out.anomalies).size).toBeGreaterThanOrEqual(8);
  });

  it('reads nothing outside [off, off+len)', () => {
    // The same bytes framed by different surroundings must decode the same.
    for (let i = 0; i < 3000; i++) {
      const body = i & 1 ? randFrame() : Buffer.concat([randFrame(), randFrame()]).subarray(0, -(1 + (rnd() % 20)));
      const results: string[] = [];
      for (const fill of [0x00, 0x05, 0x64, 0xff]) {
        const pre = 1 + (rnd() % 5);
        const big = Buffer.alloc(pre + body.length + 300, fill);
        body.copy(big, pre);
        const out: Out = { pdus: [], anomalies: [] };
        const ctx = collector(out);
        const r = dnp3.parse(dnp3.createState(), big, pre, body.length, C2S, ctx);
        results.push(JSON.stringify([r, ctx.need, out]));
      }
      expect(new Set(results).size).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------
// Whole captures against tshark's decode (_tshark_ref), driven by the TCP/UDP
// payloads tshark extracts (the real stream layer is tested elsewhere).

interface Pkt {
  frame: number;
  stream: string;
  srcport: number;
  payload: Buffer;
}

function tsharkPayloads(file: string): Pkt[] {
  const txt = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-e',
      'frame.number',
      '-e',
      'tcp.stream',
      '-e',
      'udp.stream',
      '-e',
      'tcp.srcport',
      '-e',
      'udp.srcport',
      '-e',
      'tcp.payload',
      '-e',
      'udp.payload',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const pkts: Pkt[] = [];
  for (const line of txt.split('\n')) {
    const [frame, ts, us, tp, up, tpay, upay] = line.split('\t');
    const payload = tpay || upay;
    if (!frame || !payload) continue;
    pkts.push({
      frame: Number(frame),
      stream: ts ? `t${ts}` : `u${us}`,
      srcport: Number(tp || up),
      payload: Buffer.from(payload, 'hex'),
    });
  }
  return pkts;
}

function readTsv(file: string): Map<number, Record<string, string>> {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length);
  const cols = lines[0].split('\t');
  const rows = new Map<number, Record<string, string>>();
  for (const l of lines.slice(1)) {
    const v = l.split('\t');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      row[c] = v[i] ?? '';
    });
    rows.set(Number(row['frame.number']), row);
  }
  return rows;
}

const list = (s: string | undefined) => (s ? s.split('|') : []);

/** Per frame: what tshark decoded vs what the dissector emitted. */
function compareCapture(rel: string, serverPort: number) {
  const pcap = resolve(SHARED_PCAPS, rel);
  const tsv = readTsv(resolve(SHARED_PCAPS, '_tshark_ref', `${rel}.dnp3.tsv`));
  const states = new Map<string, { st: Dnp3State; pending: [Buffer, Buffer] }>();
  const got: string[] = [];
  const want: string[] = [];
  const anomalies: string[] = [];
  for (const pkt of tsharkPayloads(pcap)) {
    let s = states.get(pkt.stream);
    if (!s) states.set(pkt.stream, (s = { st: dnp3.createState(), pending: [Buffer.alloc(0), Buffer.alloc(0)] }));
    const dir: Dir = pkt.srcport === serverPort ? S2C : C2S;
    const out: Out = { pdus: [], anomalies: [] };
    const before = { ...s.st, rx: undefined };
    // UDP: each datagram alone; TCP: keep the leftover like the stream layer.
    const chunks = pkt.stream[0] === 'u' ? [pkt.payload] : [s.pending[dir], pkt.payload];
    const res = drive(chunks, dir, s.st, out);
    if (pkt.stream[0] === 't') s.pending[dir] = Buffer.from(res.pending);
    anomalies.push(...out.anomalies);
    const pdus = out.pdus.map((p) => JSON.parse(p.json));
    const apps = pdus.filter((p) => p.fc !== null);
    // tshark 4.0 lists no objects for Stop Application (fc 18; dnp3.pcap frame 163)
    const objs = apps.filter((p) => p.fc !== 18);
    got.push(
      `${pkt.frame} links=${s.st.linkFrames - before.linkFrames} segs=${s.st.segments - before.segments} ` +
        `linkonly=${pdus.filter((p) => p.fc === null).length} ` +
        `fc=${apps.map((p) => p.fc).join('|')} iin=${apps
          .filter((p) => p.iin !== null)
          .map((p) => `0x${p.iin.toString(16).padStart(4, '0')}`)
          .join('|')} ` +
        `obj=${objs
          .flatMap((p) =>
            (p.objects ?? []).map(
              (o: { group: number; variation: number }) => `0x${((o.group << 8) | o.variation).toString(16).padStart(4, '0')}`,
            ),
          )
          .join('|')}`,
    );
    const row = tsv.get(pkt.frame);
    const pri = list(row?.['dnp3.ctl.prifunc']);
    const sec = list(row?.['dnp3.ctl.secfunc']);
    want.push(
      `${pkt.frame} links=${list(row?.['dnp3.src']).length} segs=${list(row?.['dnp3.tr.seq']).length} ` +
        `linkonly=${pri.filter((f) => f !== '3' && f !== '4').length + sec.length} ` +
        `fc=${row?.['dnp3.al.func'] ?? ''} iin=${row?.['dnp3.al.iin'] ?? ''} obj=${row?.['dnp3.al.obj'] ?? ''}`,
    );
  }
  return { got, want, anomalies, states };
}

withShared(() => {
  describe('dnp3 vs tshark on whole captures', () => {
    const cases: [string, number][] = [
      ['zeek/Traces/dnp3/dnp3.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_read.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_link_only.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_file_read.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_file_write.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_del_measure.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_udp_read.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_udp_select_operate.pcap', 20000],
      ['zeek/Traces/dnp3/dnp3_read_p20001.pcap', 20001],
      ['ITI-ICS-Security-Tools/pcaps/dnp3/full_exchange.pcap', 20000],
      ['ITI-ICS-Security-Tools/pcaps/dnp3/dataset_exchange.pcap', 20000], // g0 device attributes
      ['ITI-ICS-Security-Tools/pcaps/dnp3/file_list_directory.pcap', 20000],
      ['ITI-ICS-Security-Tools/pcaps/dnp3/opendnp3-3/conformance/8.11.2.5/dump.pcap', 20000], // BSD loopback
    ];
    for (const [rel, port] of cases) {
      it(`matches tshark frame by frame: ${rel}`, () => {
        const { got, want } = compareCapture(rel, port);
        expect(got.length).toBeGreaterThan(0);
        expect(got).toEqual(want);
      });
    }

    it('dnp3.pcap: the two segments starting 05 05 (frames 19 and 21, not DNP3 for tshark) are bad_start', () => {
      const { anomalies } = compareCapture('zeek/Traces/dnp3/dnp3.pcap', 20000);
      // And six fragments (fc 21 frames 154/156, fc 18 frames 163-176) whose last
      // object header has qualifier 0xed, a reserved range code (13).
      expect(anomalies.filter((a) => a !== 'malformed_object')).toEqual(['bad_start', 'bad_start']);
      expect(anomalies.filter((a) => a === 'malformed_object')).toHaveLength(6);
    });

    it('dnp3-flowbuffer-overflow-assert.pcap: 17 x 249-byte segments without FIN exceed the 4096-byte cap', () => {
      const { got, want, anomalies, states } = compareCapture('zeek/Traces/dnp3/dnp3-flowbuffer-overflow-assert.pcap', 20000);
      expect(got).toEqual(want); // 17 segments, no application fragment (tshark: no al.func either)
      expect(anomalies).toEqual(['fragment_too_long']);
      const st = [...states.values()][0].st;
      expect(JSON.parse(dnp3.flowJson(st))).toMatchObject({ segments: 17, fragments: 0, dropped_fragments: 1 });
    });
  });
});
