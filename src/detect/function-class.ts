// One vocabulary of function classes across protocols, so a baseline and a
// policy can say "this master only reads" whatever it speaks. Each protocol
// module (src/dissectors/<name>/functions.ts) maps its raw codes (kept
// alongside) to a class and refines a few by other PDU fields; this file only
// looks them up through the registry.
//
// Classes:
//   read        reading process data (polls, interrogations, subscriptions)
//   write       changing process data (register/coil/point writes)
//   control     operating the process (select/operate, commands, method calls)
//   config      changing the device itself: program, file transfer, restart,
//               set time, parameters, address space
//   diagnostic  counters, identification, test and delay measurement
//   session     association housekeeping (confirms, secure channel, auth)
//   other       user-defined, vendor-opaque or unknown codes
import { moduleByName } from '../dissectors/index.js';
import { CONFIG, CONTROL, FunctionTable, OTHER, WRITE } from '../dissectors/module.js';
import type { AppName, PduBase } from '../dissectors/types.js';

export {
  CONFIG,
  CONTROL,
  DIAGNOSTIC,
  FUNCTION_CLASSES,
  OTHER,
  READ,
  SESSION,
  WRITE,
  type FunctionClass,
} from '../dissectors/module.js';

/** Classes whose first use on a talker/endpoint pair is a high-severity alert. */
export function isHighClass(c: number): boolean {
  return c === WRITE || c === CONTROL || c === CONFIG;
}

const tables = new Map<AppName, FunctionTable | null>();

/** The module's function table, built on first use (null: no such protocol). */
function table(app: AppName): FunctionTable | null {
  let t = tables.get(app);
  if (t === undefined) {
    const m = moduleByName(app);
    t = m === undefined ? null : new FunctionTable(m.functions);
    tables.set(app, t);
  }
  return t;
}

/** Class of a raw code from the protocol's table alone (no refinement). */
export function codeClass(app: AppName, fc: number): number {
  return table(app)?.classOf(fc) ?? OTHER;
}

/** The table's name of a code, or undefined. */
export function codeName(app: AppName, fc: number): string | undefined {
  return table(app)?.nameOf(fc);
}

/** Codes present in a protocol's table (for tests and documentation). */
export function tableCodes(app: AppName): number[] {
  return table(app)?.codes() ?? [];
}

/** The class of one decoded PDU (pdu.fc >= 0), as its module classifies it. */
export function pduClass(app: AppName, pdu: PduBase): number {
  return moduleByName(app)?.classify(pdu) ?? OTHER;
}
