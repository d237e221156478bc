// The closed set of anomaly names the modbus parser reports (ctx.anomaly); each is
// documented on ModbusAnomaly in parser.ts.
import type { ModbusAnomaly } from './parser.js';

export const MODBUS_ANOMALIES = [
  'invalid_length',
  'invalid_protocol_id',
  'unknown_function_code',
  'malformed_pdu',
  'invalid_quantity',
  'invalid_value',
  'invalid_exception_code',
  'response_mismatch',
  'unmatched_response',
  'too_many_transactions',
] as const satisfies readonly ModbusAnomaly[];

export type ModbusAnomalyName = (typeof MODBUS_ANOMALIES)[number];
/** Compile-time check the other way: a name the parser's type has and this list lacks is an error here. */
export const MODBUS_ANOMALIES_COMPLETE: Exclude<ModbusAnomaly, ModbusAnomalyName> extends never ? true : never = true;
