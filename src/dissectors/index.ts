// The registry: one line per protocol. Order matters only when two probes
// match the same bytes (the first wins); port hints are tried before it.
import type { Dissector } from './types.js';
import { modbus } from './modbus.js';
import { dnp3 } from './dnp3.js';
import { iec104 } from './iec104.js';
import { opcua } from './opcua.js';
import { s7comm } from './s7comm/index.js';

export const DISSECTORS: readonly Dissector[] = [modbus, dnp3, iec104, opcua, s7comm];

export function dissectorsByName(names: readonly string[]): Dissector[] {
  return names.map((n) => {
    const d = DISSECTORS.find((x) => x.name === n);
    if (d === undefined) throw new Error(`unknown protocol '${n}' (known: ${DISSECTORS.map((x) => x.name).join(', ')})`);
    return d;
  });
}
