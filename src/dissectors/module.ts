// A protocol module: everything otwatch knows about one protocol, in one
// folder (src/dissectors/<name>/), exported as one object and listed once in
// the registry (src/dissectors/index.ts). Detection, the baseline format, the
// summary, the workers, the CLI help and the port tables learn about
// protocols only through this interface and the registry.
//
// The parsing half is the Dissector contract (types.ts): probe, per-flow
// state, parse, gap. This file adds what the rest of the pipeline needs.
import type { Dir, Dissector, PduBase } from './types.js';

/** The shared function-class vocabulary, by index (see docs/detection.md):
 *  read, write, control, config, diagnostic, session, other. */
export const FUNCTION_CLASSES = ['read', 'write', 'control', 'config', 'diagnostic', 'session', 'other'] as const;
export type FunctionClass = (typeof FUNCTION_CLASSES)[number];
export const READ = 0;
export const WRITE = 1;
export const CONTROL = 2;
export const CONFIG = 3;
export const DIAGNOSTIC = 4;
export const SESSION = 5;
export const OTHER = 6;

/** One row of a protocol's function-code table: code -> class -> name. */
export type FunctionRow = readonly [code: number, cls: number, name: string];

/** A function-code table built once from a module's rows: the class and
 *  name of a raw code, without refinement by other PDU fields (a module's
 *  classify may use one for its per-PDU lookup). */
export class FunctionTable {
  private readonly cls = new Map<number, number>();
  private readonly names = new Map<number, string>();
  /** Class + 1 for codes below 256 (0: not in the table): the per-PDU lookup. */
  private readonly small = new Uint8Array(256);

  constructor(rows: readonly FunctionRow[]) {
    for (const [code, c, name] of rows) {
      this.cls.set(code, c);
      this.names.set(code, name);
      if (code >= 0 && code < 256) this.small[code] = c + 1;
    }
  }

  /** Class of a code (OTHER when not in the table). Allocates nothing. */
  classOf(fc: number): number {
    if (fc >= 0 && fc < 256) {
      const c = this.small[fc];
      return c === 0 ? OTHER : c - 1;
    }
    return this.cls.get(fc) ?? OTHER;
  }

  nameOf(fc: number): string | undefined {
    return this.names.get(fc);
  }

  codes(): number[] {
    return [...this.cls.keys()].sort((a, b) => a - b);
  }
}

/** Side of a flow an identity fact is about: the flow's client or server. */
export type Side = 'client' | 'server';
/** What an identity fact says: the side's role in the protocol's own terms
 *  (key 'role', from roleTerms), a protocol address, or a device attribute. */
export type IdentityKind = 'role' | 'address' | 'identity';

/**
 * What a protocol reveals about the endpoints of a flow. The pipeline hands
 * one to `identify` only when something consumes it (the inventory); the
 * consumer de-duplicates, so a module may report the same fact every PDU.
 */
export interface IdentitySink {
  /** A protocol address the endpoint on `side` answers to or uses:
   *  kind is e.g. 'unit_id', 'link_address', 'common_address',
   *  'endpoint_url', 'security_policy', 'rack_slot'. */
  address(side: Side, kind: string, value: string | number): void;
  /** A device identity attribute carried by the traffic:
   *  key is e.g. 'vendor', 'product_code', 'revision', 'product_name',
   *  'serial', 'application_uri', 'order_number', 'firmware'. */
  identity(side: Side, key: string, value: string | number): void;
  /** True when `key` (a number >= 0 the module makes of what it is about to report) equals the one it gave
   *  for the flow's previous report: that report would repeat the last, and the module may skip it (a
   *  poll names the same addresses in every PDU). Otherwise remembers `key`. */
  repeated(key: number): boolean;
}

export interface ProtocolModule<S = any, P extends PduBase = any> extends Dissector<S, P> {
  /** Human name for help and reports, e.g. 'Modbus/TCP'. */
  readonly title: string;
  /** The protocol's own words for the client and server roles, e.g.
   *  ['master', 'outstation'] for DNP3. */
  readonly roleTerms: readonly [client: string, server: string];
  /** Function-code table (codes not in it are class OTHER, name 'unknown-N'). */
  readonly functions: readonly FunctionRow[];
  /** Class of one decoded PDU whose fc >= 0, with any refinement by other
   *  fields (e.g. DNP3 WRITE of time objects is config). Allocates nothing. */
  classify(pdu: P): number;
  /** The closed set of anomaly names `parse` may report via ctx.anomaly. */
  readonly anomalies: readonly string[];
  /** Identity hook: addresses and device identity from one PDU sent in
   *  direction dir (0 client->server, 1 server->client). Optional. */
  identify?(pdu: P, dir: Dir, sink: IdentitySink): void;
}
