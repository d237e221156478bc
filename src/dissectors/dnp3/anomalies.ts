// The closed set of anomaly names the dnp3 parser reports (ctx.anomaly); each is
// documented on Dnp3Anomaly in parser.ts.
import type { Dnp3Anomaly } from './parser.js';

export const DNP3_ANOMALIES = [
  'bad_start',
  'invalid_length',
  'bad_crc',
  'empty_user_data',
  'unknown_link_fc',
  'out_of_sequence',
  'fragment_incomplete',
  'fragment_too_long',
  'app_too_short',
  'malformed_object',
] as const satisfies readonly Dnp3Anomaly[];

export type Dnp3AnomalyName = (typeof DNP3_ANOMALIES)[number];
/** Compile-time check the other way: a name the parser's type has and this list lacks is an error here. */
export const DNP3_ANOMALIES_COMPLETE: Exclude<Dnp3Anomaly, Dnp3AnomalyName> extends never ? true : never = true;
