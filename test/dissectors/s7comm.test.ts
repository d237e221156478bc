// S7comm / S7comm-plus module. Hex fixtures are TCP payloads of real frames
// from the shared corpus (source in each comment) with tshark 4.0's decode
// (S7comm-plus: the s7comm_plus plugin 0.0.9) as a comment.
import { describe, expect, it } from 'vitest';
import { s7comm } from '../../src/dissectors/s7comm/index.js';
import { FRAG_KEEP, type S7Pdu, type S7State } from '../../src/dissectors/s7comm/parser.js';
import { classify } from '../../src/dissectors/s7comm/functions.js';
import { CONFIG, CONTROL, DIAGNOSTIC, FUNCTION_CLASSES, READ, SESSION, WRITE, type IdentitySink } from '../../src/dissectors/module.js';
import { C2S, S2C, Probe, type Dir, type ParseCtx } from '../../src/dissectors/types.js';
import { fixture, runCli, runEngine } from '../helpers/run.js';
import { TcpSession } from '../../tools/pcapgen/tcp-session.js';
import { toPcap } from '../../tools/pcapgen/capture.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// icsnpp-s7comm s7ident.pcap frame 4: COTP CR, src-tsap 0x0100, dst-tsap 0x0101 (rack 0, slot 1), tpdu-size 1024
const CR = hex('0300001611e00000000100c0010ac1020100c2020101');
// frame 6: COTP CC, same TSAPs
const CC = hex('0300001611d00001000100c0010ac1020100c2020101');
// frame 8: ROSCTR Job (1), Setup communication (0xf0), pduref 0, PDU length 480
const SETUP_JOB = hex('0300001902f08032010000000000080000f0000001000101e0');
// frame 9: ROSCTR Ack_Data (3), Setup communication, error class 0 code 0, PDU length 480
const SETUP_ACK = hex('0300001b02f080320300000000000800000000f0000001000101e0');
// frame 10: Userdata (7), pduref 256, request, funcgroup 4 (CPU functions), subfunc 1 (Read SZL), SZL-ID 0x0011, index 0x0000
const SZL_REQ = hex('0300002102f080320700000100000800080001120411440100ff09000400110000');
// frame 11: Userdata response, SZL-ID 0x0011: MlfB 6ES7 315-2EH14-0AB0, Ausbg V3.2.6 (index 7)
const SZL_RESP = hex(`0300009902f080320700000100000c007c000112081284010000000000ff09007800110000001c0004000136455337203331352d3245483134
  2d304142302000c000040001000636455337203331352d32454831342d304142302000c00004000100072020202020202020202020202020202020202020
  00c0560302060081426f6f74204c6f61646572202020202020202020000041200909`);
// snap7_s300_readVar.pcapng frame 1: Job, Read Var (0x04), 1 item: S7ANY, BYTE, length 64, DB 1, area 0x84 (DB), address 0x000000
const READ_JOB = hex('0300001f02f080320100000000000e00000401120a10020040000184000000');
// frame 2: Ack_Data, Read Var, 1 item, return code 0x0a (object does not exist)
const READ_ACK = hex('0300001902f08032030000000000020004000004010a000000');
// snap7_s300_stop.pcapng frame 1: Job, PLC Stop (0x29), pduref 2, PI service P_PROGRAM
const STOP_JOB = hex('0300002102f0803201000000020010000029000000000009505f50524f4752414d');
// frame 2: Ack_Data, PLC Stop, error 0/0
const STOP_ACK = hex('0300001402f08032030000000200010000000029');
// step7_s300_stop.pcapng frame 4: Userdata push, parameter head 0x010010, Mode-transition (group 0), current mode STOP (0)
const MODE_PUSH = hex('0300001902f080320700000000000800000100101000000000');
// S7-1511_db2_var1_HMI.pcap frame 10: S7comm-plus version 2, opcode 0x32 (Response), function 0x0542 (SetMultiVariables), seq 2
const PLUS_RESP = hex('0300002002f08072020011320000054200000002340000000000000072020000');

// s7comm_downloading_block_db1.pcap frame 58: Job, PI-Service (0x28), pduref 3840, parameter block 10 bytes, PI service _INSE
const PI_INSE = hex('0300002b02f080320100000f00001a000028000000000000fd000a01003041303030303150055f494e5345');
// A PI service (0x28) job as laid out by tshark: 7 unknown bytes, parameter block, service name.
function piJob(name: string, ref = 0x0f00): Buffer {
  const block = hex('0000fb7070');
  const param = Buffer.concat([
    hex('28 000000000000fd'),
    Buffer.from([0, block.length]),
    block,
    Buffer.from([name.length]),
    Buffer.from(name, 'latin1'),
  ]);
  return s7(1, ref, param, Buffer.alloc(0));
}

/** TPKT + COTP DT (EOT) around an S7 PDU built from its parts. */
function s7(rosctr: number, ref: number, param: Buffer, data: Buffer, eot = true): Buffer {
  const h = Buffer.alloc(rosctr === 2 || rosctr === 3 ? 12 : 10);
  h[0] = 0x32;
  h[1] = rosctr;
  h.writeUInt16BE(ref, 4);
  h.writeUInt16BE(param.length, 6);
  h.writeUInt16BE(data.length, 8);
  return dt(Buffer.concat([h, param, data]), eot);
}

function dt(payload: Buffer, eot = true): Buffer {
  const t = Buffer.from([3, 0, 0, 0, 2, 0xf0, eot ? 0x80 : 0]);
  t.writeUInt16BE(7 + payload.length, 2);
  return Buffer.concat([t, payload]);
}

// ---------------------------------------------------------------------------
// A stand-in for the stream layer: keeps leftovers, honours ctx.need,
// resynchronises with probe after -1 or a gap, checks the parse() contract.

interface Rec {
  dir: Dir;
  fc: number;
  cls: number;
  obj: Record<string, any>;
  ident: string[];
}

class Harness {
  readonly st: S7State = s7comm.createState();
  readonly recs: Rec[] = [];
  readonly anomalies: string[] = [];
  private readonly bufs: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  private readonly need: [number, number] = [0, 0];
  private readonly synced: [boolean, boolean] = [true, true];
  readonly ctx: ParseCtx = {
    ts: 0,
    need: 0,
    emit: (dir, pdu) => {
      const p = pdu as S7Pdu;
      const ident: string[] = [];
      const sink: IdentitySink = {
        address: (side, kind, v) => ident.push(`${side} ${kind}=${v}`),
        identity: (side, key, v) => ident.push(`${side} ${key}=${v}`),
        repeated: () => false,
      };
      s7comm.identify!(p, dir, sink);
      this.recs.push({ dir, fc: p.fc, cls: p.fc >= 0 ? classify(p) : -1, obj: JSON.parse(s7comm.pduJson(p)), ident });
    },
    anomaly: (_dir, name) => {
      this.anomalies.push(name);
    },
  };

  push(dir: Dir, data: Buffer): void {
    this.bufs[dir] = Buffer.concat([this.bufs[dir], data]);
    this.pump(dir);
  }

  gap(dir: Dir): void {
    s7comm.gap(this.st, dir, -1);
    this.bufs[dir] = Buffer.alloc(0);
    this.need[dir] = 0;
    this.synced[dir] = false;
  }

  private pump(dir: Dir): void {
    let b = this.bufs[dir];
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (!this.synced[dir]) {
        let i = 0;
        let found = false;
        for (; i < b.length; i++) {
          const r = s7comm.probe(b, i, b.length - i, dir);
          if (r === Probe.Match || r === Probe.MatchReversed) {
            found = true;
            break;
          }
          if (r === Probe.NeedMore) break;
        }
        b = b.subarray(i);
        if (!found) break;
        this.synced[dir] = true;
        this.need[dir] = 0;
      }
      if (b.length === 0 || b.length < this.need[dir]) break;
      this.ctx.need = 0;
      const r = s7comm.parse(this.st, b, 0, b.length, dir, this.ctx);
      if (!(r >= -1 && r <= b.length)) throw new Error(`parse returned ${r} for ${b.length} bytes`);
      if (r === -1) {
        this.synced[dir] = false;
        b = b.subarray(1);
        continue;
      }
      b = b.subarray(r);
      if (this.ctx.need > 0) {
        if (this.ctx.need > s7comm.maxPdu || this.ctx.need <= b.length) throw new Error(`bad need ${this.ctx.need} with ${b.length} left`);
        this.need[dir] = this.ctx.need;
        break;
      }
      this.need[dir] = 0;
      if (r === 0 && b.length > 0) throw new Error('parse consumed nothing and asked for nothing');
      if (b.length === 0) break;
    }
    this.bufs[dir] = Buffer.from(b);
  }

  objs(): Record<string, any>[] {
    return this.recs.map((r) => r.obj);
  }
}

function run(msgs: [Dir, Buffer][]): Harness {
  const h = new Harness();
  for (const [d, m] of msgs) h.push(d, m);
  return h;
}

const SESSION_MSGS: [Dir, Buffer][] = [
  [C2S, CR],
  [S2C, CC],
  [C2S, SETUP_JOB],
  [S2C, SETUP_ACK],
  [C2S, SZL_REQ],
  [S2C, SZL_RESP],
  [C2S, READ_JOB],
  [S2C, READ_ACK],
  [C2S, STOP_JOB],
  [S2C, STOP_ACK],
  [S2C, MODE_PUSH],
  [S2C, PLUS_RESP],
];

describe('s7comm decoding of real frames', () => {
  const h = run(SESSION_MSGS);
  const o = h.objs();

  it('decodes every frame once, with no anomaly', () => {
    expect(h.anomalies).toEqual([]);
    expect(o).toHaveLength(SESSION_MSGS.length);
  });

  it('COTP CR/CC: TSAPs, rack and slot', () => {
    expect(o[0]).toMatchObject({ cotp: 'CR', src_tsap: '0100', dst_tsap: '0101', rack: 0, slot: 1, rosctr: null, plus: false });
    expect(o[1]).toMatchObject({ cotp: 'CC', rack: 0, slot: 1 });
    expect(h.recs[0].ident).toEqual(['server rack_slot=0/1', 'server tsap=0101', 'client tsap=0100']);
  });

  it('setup communication negotiates the PDU size', () => {
    expect(o[2]).toMatchObject({ rosctr: 1, pduref: 0, func: 0xf0, func_name: 'Setup communication', pdu_size: 480, err_class: null });
    expect(o[3]).toMatchObject({ rosctr: 3, func: 0xf0, err_class: 0, err_code: 0, pdu_size: 480 });
    expect(h.st.pduSize).toBe(480);
  });

  it('SZL 0x0011 request and response: id, index, order number and firmware to the identity hook', () => {
    expect(o[4]).toMatchObject({
      rosctr: 7,
      pduref: 256,
      funcgroup: 4,
      subfunc: 1,
      szl_id: 0x11,
      szl_index: 0,
      func: null,
      func_name: 'Read SZL',
    });
    expect(o[5]).toMatchObject({ szl_id: 0x11, order_number: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.6' });
    expect(h.recs[5].ident).toEqual(['server order_number=6ES7 315-2EH14-0AB0', 'server firmware=V3.2.6', 'server vendor=Siemens']);
    expect(h.recs[4].fc).toBe(0x1401);
  });

  it('read var: item count, area, DB and address of the first item', () => {
    expect(o[6]).toMatchObject({ rosctr: 1, func: 4, func_name: 'Read Var', items: 1, area: 0x84, db: 1, address: 0 });
    expect(o[7]).toMatchObject({ rosctr: 3, func: 4, items: 1, area: null, err_class: 0 });
  });

  it('PLC stop with its PI service, mode-transition push, S7comm-plus response', () => {
    expect(o[8]).toMatchObject({ rosctr: 1, pduref: 2, func: 0x29, func_name: 'PLC Stop', pi_service: 'P_PROGRAM' });
    expect(o[9]).toMatchObject({ rosctr: 3, func: 0x29, pi_service: null });
    expect(o[10]).toMatchObject({ rosctr: 7, funcgroup: 0, subfunc: 0, func_name: 'Mode transition: STOP' });
    expect(o[11]).toEqual({
      rosctr: null,
      pduref: null,
      func: null,
      func_name: 'SetMultiVariables',
      items: null,
      area: null,
      db: null,
      address: null,
      pi_service: null,
      funcgroup: null,
      subfunc: null,
      szl_id: null,
      szl_index: null,
      err_class: null,
      err_code: null,
      plus: true,
      version: 2,
      opcode: 0x32,
      plus_func: 0x0542,
    });
    expect(h.recs[11].fc).toBe(0x10542);
  });

  it('flow counters', () => {
    const f = JSON.parse(s7comm.flowJson(h.st));
    expect(f).toMatchObject({ jobs: 3, acks: 3, userdata: 3, plus: 1, pdu_size: 480, rack: 0, slot: 1, reassembled: 0 });
    expect(f.fc).toMatchObject({ '240': 2, '4': 2, '41': 2, '5121': 2, '4096': 1, '66882': 1 });
  });
});

describe('s7comm framing', () => {
  const whole = Buffer.concat(SESSION_MSGS.filter(([d]) => d === S2C).map(([, b]) => b));
  const ref = run([[S2C, whole]]).objs();

  it('several PDUs in one segment give the same records as one per segment', () => {
    expect(ref).toEqual(run(SESSION_MSGS.filter(([d]) => d === S2C)).objs());
    expect(ref.length).toBe(7);
  });

  it('split at every offset gives the same records', () => {
    for (let cut = 1; cut < whole.length; cut++) {
      const h = run([
        [S2C, whole.subarray(0, cut)],
        [S2C, whole.subarray(cut)],
      ]);
      expect(h.objs(), `cut at ${cut}`).toEqual(ref);
      expect(h.anomalies).toEqual([]);
    }
  });

  it('asks for what it needs: the TPKT header, the COTP header, then the declared length', () => {
    const st = s7comm.createState();
    const ctx: ParseCtx = { ts: 0, need: 0, emit: () => {}, anomaly: () => {} };
    const cases: [number, number][] = [
      [1, 4],
      [3, 4],
      [4, 5],
      [5, 6],
      [6, READ_JOB.length],
      [30, READ_JOB.length],
    ];
    for (const [n, need] of cases) {
      ctx.need = 0;
      expect(s7comm.parse(st, READ_JOB, 0, n, C2S, ctx)).toBe(0);
      expect(ctx.need, `${n} bytes`).toBe(need);
    }
    expect(s7comm.probe(READ_JOB, 0, 3, C2S)).toBe(Probe.NeedMore);
    expect(s7comm.probe(READ_JOB, 0, 20, C2S)).toBe(Probe.NeedMore);
  });

  it('reassembles an S7 PDU split over COTP DTs without EOT', () => {
    const pdu = READ_JOB.subarray(7);
    const h = run([[C2S, Buffer.concat([dt(pdu.subarray(0, 5), false), dt(pdu.subarray(5, 13), false), dt(pdu.subarray(13), true)])]]);
    expect(h.anomalies).toEqual([]);
    expect(h.objs()).toEqual(run([[C2S, READ_JOB]]).objs());
    expect(h.st.reassembled).toBe(1);
  });

  it('bounds reassembly: fragments beyond 65 535 bytes are dropped, the stream goes on', () => {
    const chunk = dt(Buffer.concat([hex('32010000'), Buffer.alloc(8000)]), false);
    const parts: Buffer[] = [];
    for (let i = 0; i < 9; i++) parts.push(chunk);
    const h = run([[C2S, Buffer.concat([...parts, READ_JOB])]]);
    expect(h.anomalies).toContain('reassembly_overflow');
    expect(h.objs().at(-1)).toMatchObject({ func: 4, db: 1 });
    expect(h.st.frag[0]!.length).toBe(FRAG_KEEP);
  });

  it('refuses to wait for a DT longer than the negotiated PDU size', () => {
    const h = run([
      [C2S, SETUP_JOB],
      [S2C, SETUP_ACK],
    ]);
    const big = s7(1, 9, hex('0401'), Buffer.alloc(600));
    h.push(C2S, Buffer.concat([big.subarray(0, 10)]));
    expect(h.anomalies).toEqual(['exceeds_pdu_size']);
    h.push(C2S, Buffer.concat([big.subarray(10), READ_JOB]));
    expect(h.objs().at(-1)).toMatchObject({ func: 4, db: 1 });
  });

  it('resynchronises after a gap on the next TPKT', () => {
    const h = new Harness();
    h.push(C2S, READ_JOB);
    h.gap(C2S);
    h.push(C2S, Buffer.concat([READ_JOB.subarray(11), hex('0300ffff'), STOP_JOB, READ_JOB]));
    expect(h.objs().map((x) => x.func)).toEqual([4, 0x29, 4]);
  });

  it('bad TPKT and COTP headers are anomalies and -1, never a throw', () => {
    const ctx: ParseCtx = { ts: 0, need: 0, emit: () => {}, anomaly: () => {} };
    const names: string[] = [];
    ctx.anomaly = (_d, n) => names.push(n);
    const st = s7comm.createState();
    expect(s7comm.parse(st, hex('0400001602f080'), 0, 7, C2S, ctx)).toBe(-1);
    expect(s7comm.parse(st, hex('0300000709f080'), 0, 7, C2S, ctx)).toBe(-1);
    expect(names).toEqual(['invalid_tpkt', 'invalid_cotp']);
  });
});

describe('s7comm probe', () => {
  it('matches real frames with their roles, and refuses MMS-style and empty TPKTs', () => {
    expect(s7comm.probe(CR, 0, CR.length, C2S)).toBe(Probe.Match);
    expect(s7comm.probe(CR, 0, CR.length, S2C)).toBe(Probe.MatchReversed);
    expect(s7comm.probe(CC, 0, CC.length, S2C)).toBe(Probe.Match);
    expect(s7comm.probe(READ_JOB, 0, READ_JOB.length, S2C)).toBe(Probe.MatchReversed);
    expect(s7comm.probe(SZL_RESP, 0, SZL_RESP.length, S2C)).toBe(Probe.Match);
    expect(s7comm.probe(PLUS_RESP, 0, PLUS_RESP.length, C2S)).toBe(Probe.Match);
    // s7comm_downloading_block_db1.pcap frame 49: Job, Download block (0x1b), sent by the PLC (port 102).
    const pull = hex('0300002302f080320100000300001200001b00000000000000095f3041303030303150');
    expect(s7comm.probe(pull, 0, pull.length, S2C)).toBe(Probe.Match);
    expect(s7comm.probe(pull, 0, pull.length, C2S)).toBe(Probe.MatchReversed);
    // IEC 61850 MMS connection request: TSAPs 0x0001.
    const mms = hex('0300001611e00000000100c0010ac1020001c2020001');
    expect(s7comm.probe(mms, 0, mms.length, C2S)).toBe(Probe.NoMatch);
    expect(s7comm.probe(hex('0300000702f000'), 0, 7, C2S)).toBe(Probe.NoMatch);
    // Lengths that do not add up, and a following TPKT that does not start right.
    const bad = Buffer.from(READ_JOB);
    bad[16] ^= 1;
    expect(s7comm.probe(bad, 0, bad.length, C2S)).toBe(Probe.NoMatch);
    const two = Buffer.concat([READ_JOB, hex('0400')]);
    expect(s7comm.probe(two, 0, two.length, C2S)).toBe(Probe.NoMatch);
  });

  it('an MMS-style CR/CC is consumed without a record (it must not confirm S7)', () => {
    const h = run([
      [C2S, hex('0300001611e00000000100c0010ac1020001c2020001')],
      [C2S, READ_JOB],
    ]);
    expect(h.objs().map((x) => x.func)).toEqual([4]);
  });
});

describe('s7comm function classes', () => {
  const cls = (msgs: [Dir, Buffer][]) => run(msgs).recs.map((r) => FUNCTION_CLASSES[r.cls]);
  it('classes per issue 14', () => {
    expect(cls([[C2S, READ_JOB]])).toEqual(['read']);
    expect(cls([[C2S, STOP_JOB]])).toEqual(['control']);
    expect(cls([[C2S, SETUP_JOB]])).toEqual(['session']);
    expect(cls([[C2S, SZL_REQ]])).toEqual(['diagnostic']);
    expect(cls([[C2S, piJob('P_PROGRAM')]])).toEqual(['control']);
    expect(cls([[C2S, PI_INSE]])).toEqual(['config']);
    expect(run([[C2S, PI_INSE]]).objs()[0]).toMatchObject({
      rosctr: 1,
      pduref: 3840,
      func: 0x28,
      func_name: 'PI-Service',
      pi_service: '_INSE',
    });
    expect(
      cls([
        [C2S, piJob('_INSE')],
        [C2S, piJob('_DELE')],
        [C2S, piJob('_MODU')],
        [C2S, piJob('_GARB')],
      ]),
    ).toEqual(['config', 'config', 'config', 'config']);
    const p = { fc: 0 } as S7Pdu;
    const of = (fc: number) => {
      p.fc = fc;
      p.piService = null;
      return classify(p);
    };
    expect([0x05, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x28, 0x29].map(of)).toEqual([
      WRITE,
      CONFIG,
      CONFIG,
      CONFIG,
      CONFIG,
      CONFIG,
      CONFIG,
      CONTROL,
      CONTROL,
    ]);
    expect([0x1701, 0x1702, 0x1401, 0x1501, 0x10000 | 0x04f2, 0x10000 | 0x054c, 0x10000 | 0x04ca].map(of)).toEqual([
      READ,
      CONFIG,
      DIAGNOSTIC,
      SESSION,
      WRITE,
      READ,
      SESSION,
    ]);
    expect(of(0x77)).toBe(6); // unknown: other
    expect(piJob('_INSE').length).toBeGreaterThan(20);
  });

  it('every table row is unique', () => {
    const codes = s7comm.functions.map((r) => r[0]);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('s7comm robustness', () => {
  it('never throws on 100 000 random buffers and never reads outside [off, off+len)', () => {
    let x = 4242;
    const rnd = (n: number): number => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x % n;
    };
    const stA = s7comm.createState();
    const stB = s7comm.createState();
    const outA: string[] = [];
    const outB: string[] = [];
    const mk = (out: string[]): ParseCtx => ({
      ts: 0,
      need: 0,
      emit: (_d, p) => {
        out.push(s7comm.pduJson(p as S7Pdu));
      },
      anomaly: (_d, n) => {
        out.push(n);
      },
    });
    const ctxA = mk(outA);
    const ctxB = mk(outB);
    let emitted = 0;
    const failures: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const len = rnd(140);
      const data = Buffer.from(randomBytes(len, i + 1));
      // Most buffers get a valid TPKT + COTP header so bodies get exercised.
      if (len >= 12 && rnd(4) !== 0) {
        data[0] = 3;
        data[1] = 0;
        data.writeUInt16BE(rnd(5) === 0 ? rnd(0x10000) : 7 + rnd(len - 6), 2);
        const k = rnd(4);
        if (k < 3) {
          data[4] = 2;
          data[5] = 0xf0;
          data[6] = rnd(3) === 0 ? 0 : 0x80;
          data[7] = k === 2 ? 0x72 : 0x32;
          data[8] = k === 2 ? [1, 2, 3, 0xfe][rnd(4)] : [1, 2, 3, 7][rnd(4)];
          if (rnd(2) === 0) {
            data[9] = 0;
            data[10] = 0;
          }
          if (k === 1 && len > 20) {
            data[17] = 0;
            data[18] = 1;
            data[19] = 0x12;
            data[21] = 0x44;
            data[22] = 1;
          }
        } else {
          data[4] = 6 + rnd(20);
          data[5] = rnd(2) === 0 ? 0xe0 : 0xd0;
        }
      }
      const dir: Dir = rnd(2) === 0 ? C2S : S2C;
      const pre = rnd(5);
      const host = Buffer.from(randomBytes(pre + len + 5, i + 77777));
      data.copy(host, pre);
      outA.length = 0;
      outB.length = 0;
      ctxA.need = 0;
      ctxB.need = 0;
      const ra = s7comm.parse(stA, data, 0, len, dir, ctxA);
      const rb = s7comm.parse(stB, host, pre, len, dir, ctxB);
      let bad =
        rb !== ra ||
        ctxB.need !== ctxA.need ||
        outB.join('\n') !== outA.join('\n') ||
        ra < -1 ||
        ra > len ||
        ctxA.need > s7comm.maxPdu ||
        (ra >= 0 && ra < len && ctxA.need === 0 && ra === 0);
      for (const o of outA)
        if (o.startsWith('{')) {
          JSON.parse(o);
          emitted++;
        }
      if (s7comm.probe(host, pre, len, dir) !== s7comm.probe(data, 0, len, dir)) bad = true;
      if (bad) failures.push(data.toString('hex'));
      if (rnd(50) === 0) {
        s7comm.gap(stA, dir, -1);
        s7comm.gap(stB, dir, -1);
      }
    }
    expect(failures).toEqual([]);
    expect(emitted).toBeGreaterThan(1000);
    JSON.parse(s7comm.flowJson(stA));
    expect(s7comm.flowJson(stB)).toBe(s7comm.flowJson(stA));
  });
});

describe('s7comm through the CLI (read --pdus --json)', () => {
  const pdus = (file: string) => {
    const r = runCli(['read', '--json', '--pdus', '-q', fixture('corpus', file)]);
    expect(r.code, r.stderr).toBe(0);
    const recs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const s7 = recs.filter((x) => x.type === 'pdu' && x.app === 's7comm').map((x) => x.s7comm);
    return { recs, pdus: s7, flows: recs.filter((x) => x.type === 'flow') };
  };

  it('s7ident.pcap: identification, SZL identity, refused uploads', () => {
    const { pdus: p, flows } = pdus('s7ident.pcap');
    expect(p).toHaveLength(24);
    expect(p.filter((x) => x.order_number === '6ES7 315-2EH14-0AB0')).toHaveLength(2);
    expect(p.find((x) => x.szl_id === 0x1c && x.module_name !== undefined)).toMatchObject({
      system_name: 'SNAP7-SERVER',
      module_name: 'CPU 315-2 PN/DP',
    });
    expect(p.filter((x) => x.func === 0x1d)).toHaveLength(4);
    expect(p.filter((x) => x.rosctr === 2).every((x) => x.err_class === 0xd2 && x.err_code === 0x41)).toBe(true);
    expect(flows[0]).toMatchObject({ app: 's7comm', app_by: 'port', pdus: 24, s7comm: { rack: 0, slot: 1, pdu_size: 480 } });
  });

  it('snap7_s300_stop.pcapng: a PLC stop in a capture without handshake', () => {
    const { pdus: p } = pdus('snap7_s300_stop.pcapng');
    expect(p.map((x) => [x.rosctr, x.func, x.pi_service])).toEqual([
      [1, 0x29, 'P_PROGRAM'],
      [3, 0x29, null],
    ]);
  });

  it('s7comm_downloading_block_db1.pcap: download functions and PI _INSE', () => {
    const { pdus: p } = pdus('s7comm_downloading_block_db1.pcap');
    const funcs = new Set(p.map((x) => x.func));
    for (const f of [0x1a, 0x1b, 0x1c, 0x28, 0xf0]) expect(funcs.has(f), `func ${f}`).toBe(true);
    expect(p.filter((x) => x.pi_service === '_INSE')).toHaveLength(1);
  });

  it('S7-1511_db2_var1_HMI.pcap: S7comm-plus versions, opcodes and functions', () => {
    const { pdus: p } = pdus('S7-1511_db2_var1_HMI.pcap');
    const plus = p.filter((x) => x.plus);
    expect(plus).toHaveLength(18);
    expect(plus.slice(0, 4).map((x) => [x.version, x.opcode, x.plus_func])).toEqual([
      [1, 0x31, 0x04ca],
      [1, 0x32, 0x04ca],
      [2, 0x31, 0x0542],
      [2, 0x32, 0x0542],
    ]);
    expect(p.filter((x) => x.cotp !== undefined).map((x) => [x.cotp, x.dst_tsap])).toEqual([
      ['CR', 'SIMATIC-ROOT-HMI'],
      ['CC', 'SIMATIC-ROOT-HMI'],
    ]);
  });
});

describe('s7comm through the engine (built TCP sessions)', () => {
  async function engine(build: (s: TcpSession) => void, sport: number) {
    const s = new TcpSession({ client: '10.7.0.1', server: '10.7.0.2', cport: 40102, sport, start: 1700000000 });
    build(s);
    const path = join(mkdtempSync(join(tmpdir(), 'otw-s7-')), 's7.pcap');
    writeFileSync(path, toPcap(s.frames()));
    return runEngine([path]);
  }

  it('found by content on another port, PDUs split across segments and several per segment, a gap resynchronised', async () => {
    const r = await engine((s) => {
      s.handshake();
      s.send('c2s', CR).send('s2c', CC);
      s.segments('c2s', Buffer.concat([SETUP_JOB, SZL_REQ]), [3, 20, 30]);
      s.send('s2c', Buffer.concat([SETUP_ACK, SZL_RESP]));
      s.lose('c2s', READ_JOB);
      s.send('c2s', Buffer.concat([STOP_JOB.subarray(0, 5), READ_JOB]));
      s.retransmit('c2s');
      s.send('s2c', READ_ACK);
      s.close('c2s');
    }, 1102);
    const flow = r.flows[0];
    expect(flow).toMatchObject({ app: 's7comm', app_by: 'content', gaps: 1, s7comm: { rack: 0, slot: 1, pdu_size: 480 } });
    const funcs = r.pdus.map((p) => [p.dir, p.s7comm.cotp ?? p.s7comm.func ?? p.s7comm.subfunc]);
    expect(funcs).toEqual([
      ['c2s', 'CR'],
      ['s2c', 'CC'],
      ['c2s', 0xf0],
      ['c2s', 1],
      ['s2c', 0xf0],
      ['s2c', 1],
      ['c2s', 4],
      ['s2c', 4],
    ]);
  });

  it('IEC 61850 MMS on tcp/102 (TSAPs 0x0001, ISO session inside DT) is not S7comm', async () => {
    const r = await engine((s) => {
      s.handshake();
      s.send('c2s', hex('0300001611e00000000100c0010ac1020001c2020001'));
      s.send('s2c', hex('0300001611d00001000100c0010ac1020001c2020001'));
      s.send('c2s', hex('030000bb02f0800db2050600130100160102140200023302000134020001c19c31819902010'.padEnd(374, '0')));
      s.send('s2c', hex('0300008f02f0800e86050600130100160102140200023302000134020001c1703181'.padEnd(286, '0')));
      s.close('c2s');
    }, 102);
    expect(r.flows[0].app).toBeNull();
    expect(r.pdus).toEqual([]);
  });
});
