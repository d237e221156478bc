// A toy protocol module: everything otwatch needs to know about a made-up
// "echo" protocol on TCP 7777, in one file. It proves that a protocol is one
// folder plus one registry line: test/dissectors/toy-protocol.test.ts loads
// it through OTWATCH_EXTRA_MODULE (no file in src/ changes) and runs it
// through read --pdus, baseline learn, detection, the summary and workers.
//
// Wire format: 'E' 'C', function code (u8), flags (u8, bit 0: response),
// payload length (u16 big-endian, at most 1024), payload.
import { anchorBytes, Probe, type Dir, type ParseCtx, type PduBase } from '../../src/dissectors/types.js';
import {
  CONFIG,
  DIAGNOSTIC,
  FunctionTable,
  READ,
  WRITE,
  type FunctionRow,
  type IdentitySink,
  type ProtocolModule,
} from '../../src/dissectors/module.js';
import type { JsonOut } from '../../src/output/json-out.js';

const HDR = 6;
const MAX_PAYLOAD = 1024;

export interface EchoPdu extends PduBase {
  resp: boolean;
  len: number;
}

export interface EchoState {
  pdu: EchoPdu;
  requests: number;
  responses: number;
}

const ANOMALIES = ['bad_magic', 'too_long'] as const;
const ROWS: readonly FunctionRow[] = [
  [1, DIAGNOSTIC, 'Ping'],
  [2, READ, 'Read'],
  [3, WRITE, 'Write'],
  [4, CONFIG, 'Reset'],
];
const TABLE = new FunctionTable(ROWS);

function headerOk(buf: Buffer, off: number): boolean {
  return buf[off] === 0x45 && buf[off + 1] === 0x43 && buf.readUInt16BE(off + 4) <= MAX_PAYLOAD;
}

const echo: ProtocolModule<EchoState, EchoPdu> = {
  name: 'echo',
  title: 'Echo (toy)',
  roleTerms: ['pinger', 'echoer'],
  tcp: true,
  udp: false,
  ports: [7777],
  maxPdu: HDR + MAX_PAYLOAD,
  minProbe: HDR,
  anchorAt: 0,
  anchorOk: anchorBytes(0x45),
  functions: ROWS,
  anomalies: ANOMALIES,

  probe(buf: Buffer, off: number, len: number, dir: Dir): Probe {
    if (len < HDR) return len > 0 && buf[off] !== 0x45 ? Probe.NoMatch : Probe.NeedMore;
    if (!headerOk(buf, off)) return Probe.NoMatch;
    return ((buf[off + 3] & 1) === 1) === (dir === 1) ? Probe.Match : Probe.MatchReversed;
  },
  createState(): EchoState {
    return { pdu: { fc: -1, resp: false, len: 0 }, requests: 0, responses: 0 };
  },
  releaseState(): void {},
  parse(st: EchoState, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number {
    let used = 0;
    while (len - used >= HDR) {
      const p = off + used;
      if (!headerOk(buf, p)) {
        ctx.anomaly(dir, buf[p] === 0x45 && buf[p + 1] === 0x43 ? 'too_long' : 'bad_magic');
        return used > 0 ? used : -1;
      }
      const size = HDR + buf.readUInt16BE(p + 4);
      if (len - used < size) {
        ctx.need = size;
        return used;
      }
      const pdu = st.pdu;
      pdu.fc = buf[p + 2];
      pdu.resp = (buf[p + 3] & 1) === 1;
      pdu.len = size - HDR;
      if (pdu.resp) st.responses++;
      else st.requests++;
      ctx.emit(dir, pdu);
      used += size;
    }
    if (used < len) ctx.need = HDR;
    return used;
  },
  gap(): void {},
  classify(pdu: EchoPdu): number {
    return TABLE.classOf(pdu.fc);
  },
  identify(pdu: EchoPdu, dir: Dir, sink: IdentitySink): void {
    sink.address(dir === 0 ? 'client' : 'server', 'echo_len', pdu.len);
  },
  pduWrite(o: JsonOut, pdu: EchoPdu): void {
    o.raw('{"fc":');
    o.num(pdu.fc);
    o.raw(pdu.resp ? ',"resp":true,"len":' : ',"resp":false,"len":');
    o.num(pdu.len);
    o.raw('}');
  },
  flowWrite(o: JsonOut, st: EchoState): void {
    o.raw('{"requests":');
    o.num(st.requests);
    o.raw(',"responses":');
    o.num(st.responses);
    o.raw('}');
  },
};

export default echo;
