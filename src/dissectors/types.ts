// The contract between the stream layer (src/flows) and one protocol dissector.
//
// A dissector is pure parsing plus explicit per-flow state (Suricata's app-layer
// shape). The stream layer owns buffering: it hands the dissector bytes in
// sequence order, keeps whatever the dissector did not consume, tells it about
// gaps, and never buffers more than `maxPdu` bytes per direction.

/** Direction of the bytes relative to the flow's client/server roles. */
export type Dir = 0 | 1;
export const C2S: Dir = 0;
export const S2C: Dir = 1;

export type AppName = 'modbus' | 'dnp3' | 'iec104' | 'opcua' | 's7comm';

/** Answer of `probe`. */
export const enum Probe {
  /** Not this protocol at this offset. */
  NoMatch = 0,
  /** Looks like a PDU of this protocol starting here, sent in direction `dir`. */
  Match = 1,
  /** Not enough bytes to tell; ask again with more. */
  NeedMore = 2,
  /** A PDU of this protocol, but it was sent by the server (e.g. a response):
   *  the flow's client/server roles are reversed when no handshake was seen. */
  MatchReversed = 3,
}

/** Base of every protocol's PDU object. Dissectors reuse one object per flow
 *  state; it is only valid during the `emit` call. */
export interface PduBase {
  /** The protocol's function code: Modbus fc (exception bit cleared), DNP3
   *  application fc, IEC 104 type id (I frames) or -1, OPC UA service node id
   *  or -1. -1 when the PDU has none. */
  fc: number;
}

/** What a dissector may call while parsing. Provided by the stream layer. */
export interface ParseCtx {
  /** Capture time of the packet that completed the current bytes (epoch s). */
  ts: number;
  /** Set by `parse` when it returns having stopped inside a PDU: the number of
   *  bytes needed counted from the first unconsumed byte (>= 1). The stream
   *  layer resets it to 0 before every call. */
  need: number;
  /** One decoded PDU. Serialization happens inside this call only if PDU
   *  records are wanted, so `pdu` may be a reused object. */
  emit(dir: Dir, pdu: PduBase): void;
  /** A named protocol anomaly (counted on the flow, seen by detect).
   *  Names are snake_case, e.g. 'invalid_length', 'bad_crc'. */
  anomaly(dir: Dir, name: string): void;
  /** The bytes just parsed are proven to be this protocol (e.g. a frame whose
   *  checksums verify): the protocol is confirmed without waiting for two PDUs. */
  proven?(): void;
}

/**
 * One protocol. `S` is the per-flow state (both directions in one object).
 *
 * parse() contract:
 *  - Reads PDUs from buf[off, off+len) sent in direction `dir`. For TCP the
 *    bytes are the in-order stream; for UDP, exactly one datagram.
 *  - Returns the number of bytes consumed (0..len). If it stops inside an
 *    incomplete PDU it sets ctx.need (bytes needed from the first unconsumed
 *    byte; must be <= maxPdu); the stream layer keeps the rest and calls again
 *    once at least that many bytes are there.
 *  - Returns -1 when the bytes at the first unconsumed position are not a valid
 *    PDU (bad length, bad start byte...): report an anomaly first. The stream
 *    layer then resynchronises by scanning forward with `probe`.
 *    (Return the count consumed so far instead of -1 if some PDUs were parsed
 *    before the bad one; the next call will then start at the bad byte.)
 *  - Must check any declared length against maxPdu before asking for it.
 *  - Never throws on any input; never reads outside [off, off+len).
 *  - Must not allocate per PDU beyond what emit needs (reuse the PDU object).
 */
export interface Dissector<S = any, P extends PduBase = any> {
  readonly name: AppName;
  readonly tcp: boolean;
  readonly udp: boolean;
  /** Well-known server ports: a hint for identification only. */
  readonly ports: readonly number[];
  /** Hard maximum size of one PDU/frame in bytes: the stream layer's buffer bound. */
  readonly maxPdu: number;
  /** Minimum bytes probe() needs to answer anything other than NeedMore. */
  readonly minProbe: number;
  /** A cheap necessary condition for a PDU at buf[off]: when len > anchorAt
   *  and anchorOk[buf[off + anchorAt]] is 0, probe() answers NoMatch. The
   *  identification scan (every byte offset of a mid-stream flow) skips such
   *  offsets without calling probe. test/dissectors/anchor.test.ts checks it. */
  readonly anchorAt: number;
  readonly anchorOk: Uint8Array;


  /** Is a PDU starting at buf[off]? Cheap and strict: it is also used to find
   *  the next PDU boundary after a gap, at every byte offset. */
  probe(buf: Buffer, off: number, len: number, dir: Dir): Probe;
  createState(): S;
  /** Takes back the state of an ended flow (its record is written; nothing
   *  refers to it any more). A later createState() may hand it out again,
   *  reset: per-flow typed arrays cost more to allocate than to clear. */
  releaseState(state: S): void;
  parse(state: S, buf: Buffer, off: number, len: number, dir: Dir, ctx: ParseCtx): number;
  /** `bytes` were lost in direction `dir` (bytes < 0: unknown amount, e.g.
   *  capture started mid-stream). Drop partial reassembly state for dir. */
  gap(state: S, dir: Dir, bytes: number): void;
  /** JSON body of the PDU record's "<app>" member, e.g. '{"tid":1,"unit":1,...}',
   *  written as bytes (the hot path of --pdus). */
  pduWrite(out: JsonOut, pdu: P): void;
  /** The same as a string (jsonText(pduWrite)): held records, tests. */
  pduJson(pdu: P): string;
  /** JSON body of the flow record's "<app>" member (per-app counters), as bytes. */
  flowWrite(out: JsonOut, state: S): void;
  /** The same as a string (jsonText(flowWrite)). */
  flowJson(state: S): string;
}import type { JsonOut } from '../output/json-out.js';


/** States kept per dissector for reuse (see releaseState); bounded so a burst
 *  of flows does not pin its peak. */
export const STATE_POOL_MAX = 4096;

/** anchorOk table: 1 for each byte value a PDU may have at anchorAt. */
export function anchorBytes(...bytes: number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const b of bytes) t[b] = 1;
  return t;
}
