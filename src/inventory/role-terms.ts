// The protocols' own words for their two roles. A protocol module declares
// them (ProtocolModule.roleTerms); these are used for a dissector that does
// not yet.
import type { Dissector } from '../dissectors/types.js';
import type { ProtocolModule } from '../dissectors/module.js';

const FALLBACK: Record<string, readonly [string, string]> = {
  modbus: ['client', 'server'],
  dnp3: ['master', 'outstation'],
  iec104: ['controlling station', 'controlled station'],
  opcua: ['client', 'server'],
};

export function roleTerms(d: Dissector): readonly [string, string] {
  const t = (d as Partial<ProtocolModule>).roleTerms;
  if (t !== undefined) return t;
  return FALLBACK[d.name] ?? ['client', 'server'];
}
