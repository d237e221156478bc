import { describe, expect, it } from 'vitest';
import { enip } from '../../src/dissectors/enip/index.js';
import { classify, ENCAP_FC, IO_FC } from '../../src/dissectors/enip/functions.js';
import { MAX_IO_CONNS, newPdu, type EnipPdu, type EnipState } from '../../src/dissectors/enip/parser.js';
import { ENIP_ANOMALIES } from '../../src/dissectors/enip/anomalies.js';
import { CONFIG, CONTROL, DIAGNOSTIC, OTHER, READ, SESSION, WRITE, type IdentitySink } from '../../src/dissectors/module.js';
import { C2S, S2C, Probe, type Dir, type ParseCtx, type PduBase } from '../../src/dissectors/types.js';
import { fixture, runCli, type Rec } from '../helpers/run.js';
import { mulberry32 as prng } from '../../tools/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

class Ctx implements ParseCtx {
  ts = 1000;
  need = 0;
  pdus: { dir: Dir; json: string }[] = [];
  objects: PduBase[] = [];
  anomalies: string[] = [];
  emit(dir: Dir, pdu: PduBase): void {
    this.objects.push(pdu);
    this.pdus.push({ dir, json: enip.pduJson(pdu as EnipPdu) });
  }
  anomaly(_dir: Dir, name: string): void {
    this.anomalies.push(name);
  }
}

function parseOne(b: Buffer, dir: Dir, st: EnipState = enip.createState(), ctx = new Ctx()) {
  ctx.need = 0;
  const n = enip.parse(st, b, 0, b.length, dir, ctx);
  return { n, ctx, st, json: ctx.pdus.map((p) => JSON.parse(p.json) as Rec) };
}

/** A stand-in for the stream layer: leftovers kept, parse called once
 *  ctx.need bytes are there, bytes handed inside a larger junk buffer. */
function drive(chunks: Buffer[], dir: Dir, st = enip.createState(), ctx = new Ctx()): Ctx {
  let pending = Buffer.alloc(0);
  let need = 0;
  for (const c of chunks) {
    pending = Buffer.concat([pending, c]);
    for (;;) {
      if (pending.length === 0 || pending.length < need) break;
      const big = Buffer.alloc(pending.length + 32, 0xee);
      pending.copy(big, 16);
      ctx.need = 0;
      const n = enip.parse(st, big, 16, pending.length, dir, ctx);
      if (n < 0) throw new Error('unexpected -1');
      pending = pending.subarray(n);
      need = ctx.need;
      if (need > 0) {
        expect(need).toBeGreaterThan(pending.length);
        expect(need).toBeLessThanOrEqual(enip.maxPdu);
        break;
      }
      if (n === 0) throw new Error('no progress and no need');
    }
  }
  return ctx;
}

// ---------------------------------------------------------------- fixtures
// Real frames: TCP/UDP payloads of fixtures/pcaps/corpus (tshark -e tcp.payload);
// constructed ones were written to a pcap with text2pcap and decoded by
// tshark 4.0; the comments are tshark's decode, the expected values restate it.

interface Fixture {
  name: string;
  dir: Dir;
  hex: string;
  want: Record<string, unknown>[];
}

const STOP = '70001c00 01002a00 00000000 0000000000000000 00000000 00000000 0100 0200 a1000400 224095ff b1000800 0601 07 02 ' + '208e 2401';
const MSP_REQ =
  '7000ba0000010211000000000000000000000000000000000000000001000200a1000400010b7c00b100a60089070a02200224010b0018' +
  '0022002c0036004c005800640072007c008a0094000302200124010100050003022069240001000b0003022073240101000200030220ac' +
  '240107000100020003000500070009000a000303206825002024010013000302207024010200120013000302208e240103000300080010' +
  '000302206924000100090003022068240003000f0018001900030220772401010002000302208b240101000600';
const LIST_IDENTITY_REPLY =
  '63003300000000000000000000000000c1debed10000000001000c002d0001000002af120a0101a4000000000000000001000c003a0004' +
  '0330008e4d52000b313735362d454e42542f4103';
const IO = '02000280080003064b00db943f00b1000600a587e80f0300';
// enip_cip_example-slice.pcap frame 4: the reply to frame 2 (CIP sequence count 0x0789): Multiple Service Packet
// response, 11 x Get_Attribute_List response, general status 0 (tshark pairs them with frame 2's classes)
const MSP_REPLY =
  '70000d0100010211000000000000000000000000000000000000000000000200a10004002800fe80b100f90089078a0000000b00180024' +
  '0030003c0074007f009500ad00b900d500e1008300000001000500000060308300000001000b0000000300830000000100020000000000' +
  '8300000007000100000005000200000001000300000095291f04050000000000070000000200000009000000010001000a0000008422df' +
  '48830000000100130000000083000000020012000000000000001300000000000000830000000300030000001400080000000000100000' +
  '0001008300000001000900000000008300000003000f000000000018000000000000001900000000000000830000000100020000000201' +
  '8300000001000600000073b4ea05f4590400';
const REGISTER_REQ = '650004000000000000000000000000000000000000000000 0100 0000';
const REGISTER_REPLY = '650004007856341200000000 0102030405060708 00000000 0100 0000';
const READ_TAG_ROUTED =
  '6f002c0078563412000000000000000000000000000000000000 00000a000200 00000000 b2001c00 520220062401 0a0e0e00 4c05' +
  '91 07 436f756e746572 00 0100 01000100';
const FORWARD_OPEN =
  '6f00400078563412000000000000000000000000000000000000 00000a000200 00000000 b2003000 540220062401 0a0e 00000000' +
  ' 01000080 3412 0100 78563412 03 000000 40420f00 f843 20a10700 f843 a3 03 010020022401';
const FORWARD_OPEN_REPLY =
  '6f002e0078563412000000000000000000000000000000000000 00000a000200 00000000 b2001e00 d4000000 44332211 01000080' +
  ' 3412 0100 78563412 40420f00 20a10700 00 00';
const WRITE_TAG_ERROR =
  '70001c0078563412000000000000000000000000000000000000 00000000 0200 a1000400 44332211 b1000800 0500 cd00ff01052' + '1';

const FIX: Fixture[] = [
  // cip_stop_plc.pcap frame 1: Send Unit Data, Session 0x002a0001, Connection ID 0xff954022, CIP Sequence Count 262;
  // CIP Stop (0x07) Request, Class 0x8E, Instance 0x01
  {
    name: 'Stop',
    dir: C2S,
    hex: STOP,
    want: [
      {
        command: 0x70,
        session: 0x002a0001,
        status: 0,
        service: 7,
        resp: false,
        class: 0x8e,
        instance: 1,
        attribute: null,
        tag: null,
        general_status: null,
        ext_status: null,
        conn_id: 0xff954022,
        cip_seq: 262,
      },
    ],
  },
  // enip_cip_example-slice.pcap frame 2: Send Unit Data, Session 0x11020100; Multiple Service Packet (0x0a) to class 0x02,
  // 11 x Get_Attribute_List (0x03): classes 0x01 0x69 0x73 0xac 0x68 0x70 0x8e 0x69 0x68 0x77 0x8b,
  // instances 0x01 0x00 0x01 0x01 0x2420 0x01 0x01 0x00 0x00 0x01 0x01
  {
    name: 'MSP request',
    dir: C2S,
    hex: MSP_REQ,
    want: [0x01, 0x69, 0x73, 0xac, 0x68, 0x70, 0x8e, 0x69, 0x68, 0x77, 0x8b].map((c, i) => ({
      command: 0x70,
      session: 0x11020100,
      service: 3,
      resp: false,
      class: c,
      instance: [1, 0, 1, 1, 0x2420, 1, 1, 0, 0, 1, 1][i],
      msp_index: i,
    })),
  },
  // frame 19: List Identity reply, Vendor ID 1, Device Type 12, Product Code 58, Revision 4.3 (1027), Serial 0x00524d8e,
  // Product Name "1756-ENBT/A", State 3
  {
    name: 'ListIdentity reply',
    dir: S2C,
    hex: LIST_IDENTITY_REPLY,
    want: [
      {
        command: 0x63,
        session: 0,
        status: 0,
        service: null,
        resp: true,
        vendor: 1,
        device_type: 12,
        product_code: 58,
        revision: '4.3',
        serial: 0x00524d8e,
        product_name: '1756-ENBT/A',
        state: 3,
      },
    ],
  },
  // frame 20 (udp/2222): CPF Sequenced Address Item, Connection ID 0x004b0603, Sequence 4166875; Connected Data Item, CIP seq 34725
  {
    name: 'implicit I/O',
    dir: C2S,
    hex: IO,
    want: [{ command: null, session: null, service: null, io: true, conn_id: 0x004b0603, seq: 4166875, cip_seq: 0x87a5 }],
  },
  // Register Session (Req), Session: 0x00000000
  { name: 'RegisterSession', dir: C2S, hex: REGISTER_REQ, want: [{ command: 0x65, session: 0, status: 0, service: null, resp: false }] },
  // Register Session, Session: 0x12345678 (the reply, by direction)
  {
    name: 'RegisterSession reply',
    dir: S2C,
    hex: REGISTER_REPLY,
    want: [{ command: 0x65, session: 0x12345678, service: null, resp: true }],
  },
  // Connection Manager - Unconnected Send: 'Counter' - Service (0x4c); cip.sc 0x52,0x4c, class 0x06, symbol Counter
  {
    name: 'Read Tag via Unconnected Send',
    dir: C2S,
    hex: READ_TAG_ROUTED,
    want: [{ command: 0x6f, session: 0x12345678, service: 0x4c, resp: false, class: null, tag: 'Counter', routed: true }],
  },
  // Forward Open (Message Router): O->T 0x00000000, T->O 0x80000001, Connection Serial 0x1234, O->T RPI 1000 ms, T->O RPI 500 ms
  {
    name: 'Forward_Open',
    dir: C2S,
    hex: FORWARD_OPEN,
    want: [
      {
        service: 0x54,
        resp: false,
        class: 6,
        instance: 1,
        ot_conn_id: 0,
        to_conn_id: 0x80000001,
        conn_serial: 0x1234,
        ot_rpi: 1_000_000,
        to_rpi: 500_000,
      },
    ],
  },
  // Success: Service (0x54), General Status 0x00
  {
    name: 'Forward_Open reply',
    dir: S2C,
    hex: FORWARD_OPEN_REPLY,
    want: [{ service: 0x54, resp: true, general_status: 0, ot_conn_id: 0x11223344, to_conn_id: 0x80000001, conn_serial: 0x1234 }],
  },
  // Unknown Response (ff): Service (0x4d), Connection ID 0x11223344, CIP Sequence Count 5, cip.genstat 0xff, cip.addstat 0x2105
  {
    name: 'Write Tag error',
    dir: S2C,
    hex: WRITE_TAG_ERROR,
    want: [{ command: 0x70, service: 0x4d, resp: true, general_status: 0xff, ext_status: 0x2105, conn_id: 0x11223344, cip_seq: 5 }],
  },
];

const ISSUE_FIELDS = [
  'command',
  'session',
  'status',
  'service',
  'resp',
  'class',
  'instance',
  'attribute',
  'tag',
  'general_status',
  'ext_status',
];

describe('enip: decoding against tshark', () => {
  for (const f of FIX) {
    it(f.name, () => {
      const b = hex(f.hex);
      const r = parseOne(b, f.dir);
      expect(r.n).toBe(b.length);
      expect(r.ctx.anomalies).toEqual([]);
      expect(r.json.length).toBe(f.want.length);
      f.want.forEach((w, i) => {
        expect(r.json[i]).toMatchObject(w);
      });
      // Every record has the issue's fields, null where the message lacks them.
      for (const j of r.json) {
        for (const k of ISSUE_FIELDS) expect(j).toHaveProperty(k);
      }
    });
  }

  it('probe matches every fixture at offset 0, with roles from requests and responses', () => {
    for (const f of FIX) {
      const b = hex(f.hex);
      const r = enip.probe(b, 0, b.length, f.dir);
      expect([Probe.Match], f.name).toContain(r);
      const other = enip.probe(b, 0, b.length, (1 - f.dir) as Dir);
      // Messages whose kind is known by content reverse the roles when seen the other way.
      if (['RegisterSession', 'RegisterSession reply', 'Stop', 'ListIdentity reply', 'Forward_Open'].includes(f.name)) {
        expect(other, f.name).toBe(Probe.MatchReversed);
      }
    }
  });

  it('a response reports the path of the request it answers (connected: CIP sequence count; unconnected: sender context)', () => {
    const st = enip.createState();
    const req = parseOne(hex(MSP_REQ), C2S, st).json;
    const resp = parseOne(hex(MSP_REPLY), S2C, st).json;
    expect(resp).toHaveLength(11);
    expect(resp.map((j) => [j.service, j.resp, j.general_status, j.class, j.instance])).toEqual(
      req.map((j) => [3, true, 0, j.class, j.instance]),
    );
    parseOne(hex(FORWARD_OPEN), C2S, st);
    expect(parseOne(hex(FORWARD_OPEN_REPLY), S2C, st).json[0]).toMatchObject({ service: 0x54, resp: true, class: 6, instance: 1 });
    // Settled: the same reply again has nothing to pair with.
    expect(parseOne(hex(FORWARD_OPEN_REPLY), S2C, st).json[0]).toMatchObject({ class: null, instance: null });
    // A reply whose service differs from the request's is not given its path.
    parseOne(hex(STOP), C2S, st);
    const other = hex(WRITE_TAG_ERROR);
    other.writeUInt16LE(262, 44); // the Stop's CIP sequence count
    expect(parseOne(other, S2C, st).json[0]).toMatchObject({ service: 0x4d, class: null });
  });

  it('requests waiting for a response are bounded', () => {
    const st = enip.createState();
    const b = hex(STOP);
    for (let i = 0; i < 100; i++) {
      b.writeUInt16LE(i, 44);
      parseOne(b, C2S, st);
    }
    expect(st.pending.used.reduce((a, x) => a + x, 0)).toBe(8);
  });

  it('reuses one PDU object for every emitted PDU', () => {
    const r = parseOne(hex(MSP_REQ + STOP), C2S);
    expect(r.ctx.objects.length).toBe(12);
    expect(new Set(r.ctx.objects).size).toBe(1);
  });
});

describe('enip: framing', () => {
  const stream = hex(REGISTER_REQ + READ_TAG_ROUTED + MSP_REQ + FORWARD_OPEN + STOP + WRITE_TAG_ERROR);
  const whole = parseOne(stream, C2S).ctx.pdus.map((p) => p.json);

  it('several messages in one buffer', () => {
    expect(whole.length).toBe(1 + 1 + 11 + 1 + 1 + 1);
  });

  it('split at every offset (two chunks) gives the same PDUs', () => {
    for (let i = 1; i < stream.length; i++) {
      const got = drive([stream.subarray(0, i), stream.subarray(i)], C2S).pdus.map((p) => p.json);
      expect(got, `split at ${i}`).toEqual(whole);
    }
  });

  it('byte by byte gives the same PDUs', () => {
    const chunks = [...stream].map((x) => Buffer.from([x]));
    expect(drive(chunks, C2S).pdus.map((p) => p.json)).toEqual(whole);
  });

  it('asks for the header, then for the whole message', () => {
    const b = hex(FORWARD_OPEN);
    let r = parseOne(b.subarray(0, 3), C2S);
    expect([r.n, r.ctx.need]).toEqual([0, 24]);
    r = parseOne(b.subarray(0, 10), C2S);
    expect([r.n, r.ctx.need]).toEqual([0, 24 + 0x40]);
    r = parseOne(b.subarray(0, b.length - 1), C2S);
    expect([r.n, r.ctx.need]).toEqual([0, b.length]);
    expect(enip.probe(b, 0, 10, C2S)).toBe(Probe.NeedMore);
  });

  it('a length above 65 511 is rejected before waiting for it', () => {
    const b = hex(REGISTER_REQ);
    b.writeUInt16LE(65512, 2);
    const r = parseOne(b.subarray(0, 4), C2S);
    expect(r.n).toBe(-1);
    expect(r.ctx.anomalies).toEqual(['invalid_length']);
    expect(enip.probe(b, 0, 4, C2S)).toBe(Probe.NoMatch);
    b.writeUInt16LE(65511, 2);
    const ok = parseOne(b.subarray(0, 4), C2S);
    expect([ok.n, ok.ctx.need]).toEqual([0, 65535]);
    expect(ok.ctx.need).toBeLessThanOrEqual(enip.maxPdu);
  });

  it('unknown command and non-zero options are framing errors', () => {
    const b = hex(REGISTER_REQ);
    b[0] = 0x99;
    expect(parseOne(b, C2S).n).toBe(-1);
    const o = hex(REGISTER_REQ);
    o[21] = 1;
    const r = parseOne(o, C2S);
    expect([r.n, r.ctx.anomalies]).toEqual([-1, ['invalid_options']]);
    // After good messages, the bad one is left for the next call.
    const two = Buffer.concat([hex(REGISTER_REQ), o]);
    const r2 = parseOne(two, C2S);
    expect([r2.n, r2.ctx.pdus.length, r2.ctx.anomalies]).toEqual([28, 1, []]);
  });

  it('after a gap, probe finds the next message in junk', () => {
    const junk = Buffer.from('0123456789abcdef0123456789abcdefzz', 'latin1');
    const b = Buffer.concat([junk, hex(FORWARD_OPEN), hex(STOP)]);
    let at = -1;
    for (let i = 0; i < b.length; i++) {
      const r = enip.probe(b, i, b.length - i, C2S);
      if (r === Probe.Match || r === Probe.MatchReversed) {
        at = i;
        break;
      }
    }
    expect(at).toBe(junk.length);
    const st = enip.createState();
    enip.gap(st, C2S, 100);
    expect(parseOne(b.subarray(at), C2S, st).json.map((j) => j.service)).toEqual([0x54, 7]);
  });

  it('malformed CIP inside a well-framed message is reported and the message consumed', () => {
    // Stop with a path size of 9 words in an 8-byte data item.
    const b = hex(STOP);
    b[b.length - 5] = 9;
    const r = parseOne(b, C2S);
    expect(r.n).toBe(b.length);
    expect(r.ctx.anomalies).toEqual(['malformed_cip']);
    expect(r.json[0]).toMatchObject({ service: 7, class: null });
    // Multiple Service Packet whose offsets run past its data: the container itself.
    const m = hex(MSP_REQ);
    m[24 + 16 + 4 + 2 + 6 + 2 + 2] = 0xff; // first offset, high byte
    const rm = parseOne(m, C2S);
    expect(rm.ctx.anomalies).toEqual(['malformed_msp']);
    expect(rm.json).toHaveLength(1);
    expect(rm.json[0]).toMatchObject({ service: 0x0a, class: 2, instance: 1 });
  });
});

describe('enip: implicit I/O', () => {
  const io = (conn: number, seq: number) => {
    const b = hex(IO);
    b.writeUInt32LE(conn, 6);
    b.writeUInt32LE(seq, 10);
    return b;
  };

  it('a sequence that goes backwards is an anomaly, per connection and direction', () => {
    const st = enip.createState();
    const ctx = new Ctx();
    const steps = [
      [1, 10, C2S],
      [2, 5, C2S],
      [1, 11, C2S],
      [1, 3, S2C],
      [2, 6, C2S],
      [1, 9, C2S],
      [3, 0xfffffffe, C2S],
      [3, 1, C2S],
    ] as const;
    for (const [c, s, d] of steps) {
      parseOne(io(c, s), d, st, ctx);
    }
    // 1: 10 -> 11 -> 9 (backwards); S2C has its own; 3: 0xfffffffe -> 1 wraps forward (serial-number arithmetic).
    expect(ctx.anomalies).toEqual(['io_sequence_backwards']);
    expect(JSON.parse(enip.flowJson(st))).toMatchObject({ io: 8 });
  });

  it('the connection table is bounded', () => {
    const st = enip.createState();
    const ctx = new Ctx();
    for (let c = 0; c < MAX_IO_CONNS * 4; c++) parseOne(io(c, 1), C2S, st, ctx);
    expect(st.ioConns.n).toBe(MAX_IO_CONNS);
    expect(ctx.anomalies).toEqual([]);
  });

  it('an I/O datagram is only recognised with its exact length', () => {
    const b = hex(IO);
    expect(enip.probe(b, 0, b.length, C2S)).toBe(Probe.Match);
    expect(enip.probe(Buffer.concat([b, Buffer.from([0])]), 0, b.length + 1, C2S)).toBe(Probe.NoMatch);
    expect(enip.probe(b, 0, 10, C2S)).toBe(Probe.NeedMore);
  });
});

describe('enip: function classes', () => {
  const pdu = (fc: number, cls = -1) => Object.assign(newPdu(), { fc, cipClass: cls });
  const cases: [string, number, number, number][] = [
    ['Read Tag', 0x4c, 0x6b, READ],
    ['Get_Attribute_Single', 0x0e, 1, READ],
    ['Get_Attributes_All', 0x01, 1, READ],
    ['Get_Attribute_List', 0x03, 1, READ],
    ['Write Tag', 0x4d, 0x6b, WRITE],
    ['Read-Modify-Write', 0x4e, 0x6b, WRITE],
    ['Write Tag Fragmented', 0x53, -1, WRITE],
    ['Set_Attribute_Single', 0x10, 0xf5, CONFIG],
    ['Set_Attributes_All', 0x02, 1, CONFIG],
    ['Set_Attribute_List', 0x04, 1, CONFIG],
    ['Reset', 0x05, 1, CONTROL],
    ['Start', 0x06, 0x8e, CONTROL],
    ['Stop', 0x07, 0x8e, CONTROL],
    ['Forward_Open', 0x54, 6, SESSION],
    ['Large_Forward_Open', 0x5b, 6, SESSION],
    ['Forward_Close', 0x4e, 6, SESSION],
    ['RegisterSession', ENCAP_FC + 0x65, -1, SESSION],
    ['UnRegisterSession', ENCAP_FC + 0x66, -1, SESSION],
    ['ListIdentity', ENCAP_FC + 0x63, -1, DIAGNOSTIC],
    ['ListServices', ENCAP_FC + 0x04, -1, DIAGNOSTIC],
    ['Execute PCCC', 0x4b, 0x67, OTHER],
    ['implicit I/O', IO_FC, -1, OTHER],
    ['unknown service', 0x33, 1, OTHER],
    ['no fc', -1, -1, OTHER],
  ];
  for (const [name, fc, cls, want] of cases) {
    it(name, () => expect(classify(pdu(fc, cls))).toBe(want));
  }

  it('decoded PDUs classify as their service says', () => {
    const classes = (h: string, d: Dir = C2S) => {
      const st = enip.createState();
      const out: number[] = [];
      const ctx = new Ctx();
      ctx.emit = (_dir, p) => {
        out.push(classify(p as EnipPdu));
      };
      enip.parse(st, hex(h), 0, hex(h).length, d, ctx);
      return out;
    };
    expect(classes(STOP)).toEqual([CONTROL]);
    expect(classes(FORWARD_OPEN)).toEqual([SESSION]);
    expect(classes(READ_TAG_ROUTED)).toEqual([READ]);
    expect(classes(REGISTER_REQ)).toEqual([SESSION]);
    expect(classes(MSP_REQ)).toEqual(new Array(11).fill(READ));
  });

  it('the table and the anomaly list are closed and named', () => {
    expect(new Set(enip.functions.map((r) => r[0])).size).toBe(enip.functions.length);
    expect(enip.anomalies).toBe(ENIP_ANOMALIES);
  });
});

describe('enip: identity', () => {
  it('ListIdentity reply feeds the identity of its sender', () => {
    const facts: string[] = [];
    const sink: IdentitySink = {
      address: (side, kind, v) => facts.push(`${side} ${kind} ${v}`),
      identity: (side, key, v) => facts.push(`${side} ${key} ${v}`),
      repeated: () => false,
    };
    const ctx = new Ctx();
    ctx.emit = (dir, p) => enip.identify!(p as EnipPdu, dir, sink);
    const b = hex(LIST_IDENTITY_REPLY);
    enip.parse(enip.createState(), b, 0, b.length, S2C, ctx);
    expect(facts).toEqual([
      'server vendor 1',
      'server device_type 12',
      'server product_code 58',
      'server revision 4.3',
      `server serial ${0x00524d8e}`,
      'server product_name 1756-ENBT/A',
      'server state 3',
    ]);
  });
});

describe('enip: random bytes', () => {
  it('100 000 random buffers: parse and probe never throw and keep the contract', () => {
    const r = prng(44818);
    const seeds = [STOP, MSP_REQ, LIST_IDENTITY_REPLY, IO, FORWARD_OPEN, READ_TAG_ROUTED, WRITE_TAG_ERROR].map(hex);
    const st = enip.createState();
    const ctx = new Ctx();
    ctx.emit = () => {};
    for (let n = 0; n < 100_000; n++) {
      let b: Buffer;
      if (n % 2 === 0) {
        b = Buffer.alloc(Math.floor(r() * 200));
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      } else {
        // A real message with a few bytes changed: reaches the deep paths.
        b = Buffer.from(seeds[n % seeds.length]);
        for (let k = 0; k < 1 + Math.floor(r() * 4); k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      }
      const dir = (n & 2 ? 1 : 0) as Dir;
      ctx.need = 0;
      const used = enip.parse(st, b, 0, b.length, dir, ctx);
      expect(used === -1 || (used >= 0 && used <= b.length)).toBe(true);
      if (used >= 0 && used < b.length && (used === 0 || ctx.need > 0)) {
        // Stopped inside a message (or before a bad header after good ones: need 0, used > 0).
        expect(ctx.need).toBeGreaterThan(b.length - used);
        expect(ctx.need).toBeLessThanOrEqual(enip.maxPdu);
      }
      enip.probe(b, 0, b.length, dir);
    }
    for (const a of ctx.anomalies) expect(ENIP_ANOMALIES as readonly string[]).toContain(a);
  });
});

describe('enip: CLI read --pdus --json on the fixtures', () => {
  const read = (f: string) => {
    const r = runCli(['read', '--pdus', '--json', '-q', fixture('corpus', f)]);
    expect(r.code).toBe(0);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec);
  };

  it('enip_cip_example-slice.pcap: a CIP session, ListIdentity and implicit I/O', () => {
    const recs = read('enip_cip_example-slice.pcap');
    const pdus = recs.filter((x) => x.type === 'pdu');
    expect(pdus.every((p) => p.app === 'enip')).toBe(true);
    const io = pdus.filter((p) => p.enip.io);
    expect(io).toHaveLength(20);
    expect(io.every((p) => p.proto === 'udp' && p.server.port === 2222)).toBe(true);
    const id = pdus.find((p) => p.enip.vendor !== undefined);
    expect(id?.enip).toMatchObject({
      command: 0x63,
      vendor: 1,
      device_type: 12,
      product_code: 58,
      revision: '4.3',
      product_name: '1756-ENBT/A',
    });
    // tshark: frames 2, 4, 7, 9 carry 11 services each, 10-17 one each (4 requests, 4 replies).
    const cip = pdus.filter((p) => p.proto === 'tcp' && p.enip.service !== null);
    expect(cip).toHaveLength(4 * 11 + 8);
    const flows = recs.filter((x) => x.type === 'flow');
    expect(flows.map((f) => f.app).sort()).toEqual(['enip', 'enip', 'enip']);
    const udp = flows.find((f) => f.proto === 'udp');
    expect(udp).toBeDefined();
    expect(udp?.enip).toMatchObject({ io: 20 });
    expect(udp?.anomalies).toBeUndefined();
  });

  it('cip_stop_plc.pcap: one Stop request (a lone frame on the port confirms)', () => {
    const recs = read('cip_stop_plc.pcap');
    const pdus = recs.filter((x) => x.type === 'pdu');
    expect(pdus).toHaveLength(1);
    expect(pdus[0]).toMatchObject({ app: 'enip', dir: 'c2s', server: { port: 44818 } });
    expect(pdus[0].enip).toMatchObject({ command: 0x70, service: 7, resp: false, class: 0x8e, instance: 1 });
  });
});
