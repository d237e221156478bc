// The closed set of anomaly names the iec104 parser reports (ctx.anomaly); each is
// documented on Iec104Anomaly in parser.ts.
import type { Iec104Anomaly } from './parser.js';

export const IEC104_ANOMALIES = [
  'invalid_start',
  'invalid_length',
  'invalid_u_frame',
  'invalid_s_frame',
  'invalid_su_length',
  'asdu_truncated',
  'asdu_length_mismatch',
  'unknown_type_id',
  'invalid_cot',
  'seq_jump',
  'seq_repeat',
  'ack_unsent',
] as const satisfies readonly Iec104Anomaly[];

export type Iec104AnomalyName = (typeof IEC104_ANOMALIES)[number];
/** Compile-time check the other way: a name the parser's type has and this list lacks is an error here. */
export const IEC104_ANOMALIES_COMPLETE: Exclude<Iec104Anomaly, Iec104AnomalyName> extends never ? true : never = true;
