// OPC UA services in the shared class vocabulary (module.ts), request and
// response alike; the ids and classes are the one table in opcua-services.ts.
import { FunctionTable, type FunctionRow } from '../module.js';
import { OPCUA_SERVICE_ROWS } from './opcua-services.js';
import type { OpcuaPdu } from './parser.js';

export const OPCUA_ROWS: readonly FunctionRow[] = OPCUA_SERVICE_ROWS.map(([id, cls, name]) => [id, cls, name] as const);

export const OPCUA_FUNCTIONS = new FunctionTable(OPCUA_ROWS);

export function classifyOpcua(p: OpcuaPdu): number {
  return OPCUA_FUNCTIONS.classOf(p.fc);
}
