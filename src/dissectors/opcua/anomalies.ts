// The closed set of anomaly names the opcua parser reports (ctx.anomaly); each is
// documented on OpcuaAnomaly in parser.ts.
import type { OpcuaAnomaly } from './parser.js';

export const OPCUA_ANOMALIES = [
  'invalid_length',
  'invalid_message_type',
  'invalid_chunk_type',
  'invalid_string_length',
  'invalid_node_id',
  'too_many_chunks',
  'chunk_flood',
] as const satisfies readonly OpcuaAnomaly[];

export type OpcuaAnomalyName = (typeof OPCUA_ANOMALIES)[number];
/** Compile-time check the other way: a name the parser's type has and this list lacks is an error here. */
export const OPCUA_ANOMALIES_COMPLETE: Exclude<OpcuaAnomaly, OpcuaAnomalyName> extends never ? true : never = true;
