// The registry: one line per protocol module. Order matters when two probes
// match the same bytes (the first wins; port hints are tried before it), and
// it is the order of protocols in baseline files: append, never reorder.
//
// OTWATCH_EXTRA_MODULE=<path of a compiled module file> appends the module
// that file exports as default: how a test adds a protocol without touching
// src/ (worker threads inherit the variable, so they load the same list).
import { pathToFileURL } from 'node:url';
import type { ProtocolModule } from './module.js';
import { modbus } from './modbus/index.js';
import { dnp3 } from './dnp3/index.js';
import { iec104 } from './iec104/index.js';
import { opcua } from './opcua/index.js';
import { enip } from './enip/index.js';
import { s7comm } from './s7comm/index.js';

const modules: ProtocolModule[] = [modbus, dnp3, iec104, opcua, enip, s7comm];

const extra = process.env.OTWATCH_EXTRA_MODULE;
if (extra !== undefined && extra !== '') {
  const m = ((await import(pathToFileURL(extra).href)) as { default: ProtocolModule }).default;
  if (modules.some((x) => x.name === m.name)) throw new Error(`OTWATCH_EXTRA_MODULE: protocol '${m.name}' is already registered`);
  modules.push(m);
}

export const MODULES: readonly ProtocolModule[] = modules;
/** The same list under its older name (the stream layer's view). */
export const DISSECTORS: readonly ProtocolModule[] = MODULES;
/** Protocol names in registry order: the baseline's and the summary's index. */
export const APP_NAMES: readonly string[] = MODULES.map((m) => m.name);

export function moduleByName(name: string): ProtocolModule | undefined {
  return MODULES.find((m) => m.name === name);
}

export function dissectorsByName(names: readonly string[]): ProtocolModule[] {
  return names.map((n) => {
    const d = moduleByName(n);
    if (d === undefined) throw new Error(`unknown protocol '${n}' (known: ${APP_NAMES.join(', ')})`);
    return d;
  });
}

/** The protocols for help text: 'Modbus/TCP, DNP3, ...'. */
export function protocolList(): string {
  return MODULES.map((m) => m.title).join(', ');
}

/** Server ports of the registered protocols, per transport. */
export function moduleServicePorts(): number[] {
  return [...new Set(MODULES.flatMap((m) => m.ports))].sort((a, b) => a - b);
}
