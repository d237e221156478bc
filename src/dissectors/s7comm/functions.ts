// S7comm function codes -> class -> name, in the fc code space of parser.ts:
// job/ack_data function codes (0x00-0xFF), userdata 0x1000 | group << 8 |
// subfunction, S7comm-plus 0x10000 | function code. The reasoning per code is
// in docs/protocols/s7comm.md.
import { CONFIG, CONTROL, DIAGNOSTIC, OTHER, READ, SESSION, WRITE, type FunctionRow } from '../module.js';
import { PLUS_BASE, USERDATA_BASE, type S7Pdu } from './parser.js';

const U = (group: number, sub: number) => USERDATA_BASE | (group << 8) | sub;
const P = (f: number) => PLUS_BASE | f;

export const S7_FUNCTIONS: readonly FunctionRow[] = [
  // Job / ack_data
  [0x00, DIAGNOSTIC, 'CPU services'],
  [0x04, READ, 'Read Var'],
  [0x05, WRITE, 'Write Var'],
  [0x1a, CONFIG, 'Request download'],
  [0x1b, CONFIG, 'Download block'],
  [0x1c, CONFIG, 'Download ended'],
  [0x1d, CONFIG, 'Start upload'],
  [0x1e, CONFIG, 'Upload'],
  [0x1f, CONFIG, 'End upload'],
  [0x28, CONTROL, 'PI-Service'],
  [0x29, CONTROL, 'PLC Stop'],
  [0xf0, SESSION, 'Setup communication'],
  // Userdata group 0: mode transition (pushed by the CPU)
  [U(0, 0), DIAGNOSTIC, 'Mode transition: STOP'],
  [U(0, 1), DIAGNOSTIC, 'Mode transition: warm restart'],
  [U(0, 2), DIAGNOSTIC, 'Mode transition: RUN'],
  [U(0, 3), DIAGNOSTIC, 'Mode transition: hot restart'],
  [U(0, 4), DIAGNOSTIC, 'Mode transition: HOLD'],
  [U(0, 6), DIAGNOSTIC, 'Mode transition: cold restart'],
  [U(0, 9), DIAGNOSTIC, 'Mode transition: RUN_R'],
  [U(0, 11), DIAGNOSTIC, 'Mode transition: LINK-UP'],
  [U(0, 12), DIAGNOSTIC, 'Mode transition: UPDATE'],
  // Group 1: programmer commands
  [U(1, 0x01), DIAGNOSTIC, 'Request diag data (Type 1)'],
  [U(1, 0x02), WRITE, 'VarTab'],
  [U(1, 0x0c), DIAGNOSTIC, 'Erase'],
  [U(1, 0x0e), DIAGNOSTIC, 'Read diag data'],
  [U(1, 0x0f), DIAGNOSTIC, 'Remove diag data'],
  [U(1, 0x10), WRITE, 'Forces'],
  [U(1, 0x13), DIAGNOSTIC, 'Request diag data (Type 2)'],
  // Group 2: cyclic data
  [U(2, 0x01), READ, 'Cyclic: Memory'],
  [U(2, 0x04), READ, 'Cyclic: Unsubscribe'],
  [U(2, 0x05), READ, 'Cyclic: Memory2'],
  // Group 3: block functions
  [U(3, 0x01), DIAGNOSTIC, 'List blocks'],
  [U(3, 0x02), DIAGNOSTIC, 'List blocks of type'],
  [U(3, 0x03), DIAGNOSTIC, 'Get block info'],
  // Group 4: CPU functions
  [U(4, 0x01), DIAGNOSTIC, 'Read SZL'],
  [U(4, 0x02), SESSION, 'Message service'],
  [U(4, 0x03), DIAGNOSTIC, 'Diagnostic message'],
  [U(4, 0x05), DIAGNOSTIC, 'ALARM_8 indication'],
  [U(4, 0x06), DIAGNOSTIC, 'NOTIFY indication'],
  [U(4, 0x07), WRITE, 'ALARM_8 lock'],
  [U(4, 0x08), WRITE, 'ALARM_8 unlock'],
  [U(4, 0x09), DIAGNOSTIC, 'SCAN indication'],
  [U(4, 0x0b), WRITE, 'ALARM ack'],
  [U(4, 0x0c), DIAGNOSTIC, 'ALARM ack indication'],
  [U(4, 0x0d), DIAGNOSTIC, 'ALARM lock indication'],
  [U(4, 0x0e), DIAGNOSTIC, 'ALARM unlock indication'],
  [U(4, 0x11), DIAGNOSTIC, 'ALARM_SQ indication'],
  [U(4, 0x12), DIAGNOSTIC, 'ALARM_S indication'],
  [U(4, 0x13), DIAGNOSTIC, 'ALARM query'],
  [U(4, 0x16), DIAGNOSTIC, 'NOTIFY_8 indication'],
  // Group 5: security
  [U(5, 0x01), SESSION, 'PLC password'],
  [U(5, 0x02), SESSION, 'Clean session'],
  // Group 6: programmable block communication (BSEND/BRECV)
  [U(6, 0x01), OTHER, 'PBC BSEND/BRECV'],
  // Group 7: time functions
  [U(7, 0x01), READ, 'Read clock'],
  [U(7, 0x02), CONFIG, 'Set clock'],
  [U(7, 0x03), READ, 'Read clock (following)'],
  [U(7, 0x04), CONFIG, 'Set clock'],
  // S7comm-plus (function codes of the s7comm_plus Wireshark plugin)
  [P(0x04b1), OTHER, 'Error'],
  [P(0x04bb), DIAGNOSTIC, 'Explore'],
  [P(0x04ca), SESSION, 'CreateObject'],
  [P(0x04d4), SESSION, 'DeleteObject'],
  [P(0x04f2), WRITE, 'SetVariable'],
  [P(0x04fc), READ, 'GetVariable'],
  [P(0x0506), OTHER, 'AddLink'],
  [P(0x051a), OTHER, 'RemoveLink'],
  [P(0x0524), READ, 'GetLink'],
  [P(0x0542), WRITE, 'SetMultiVariables'],
  [P(0x054c), READ, 'GetMultiVariables'],
  [P(0x0556), CONFIG, 'BeginSequence'],
  [P(0x0560), CONFIG, 'EndSequence'],
  [P(0x056b), CONTROL, 'Invoke'],
  [P(0x057c), WRITE, 'SetVarSubStreamed'],
  [P(0x0586), READ, 'GetVarSubStreamed'],
  [P(0x0590), READ, 'GetVariablesAddress'],
  [P(0x059a), SESSION, 'Abort'],
  [P(0x05a9), OTHER, 'Error'],
  [P(0x05b3), SESSION, 'InitSsl'],
];

const CLS = new Map<number, number>();
const NAME = new Map<number, string>();
for (const [code, cls, name] of S7_FUNCTIONS) {
  CLS.set(code, cls);
  NAME.set(code, name);
}

/** The table's name of a code, or null. */
export function s7FunctionName(fc: number): string | null {
  return NAME.get(fc) ?? null;
}

/** PI services of PLC control (0x28) that change the program or the load
 *  memory rather than the run state: class config. */
const PROGRAM_PI = new Set(['_INSE', '_DELE', '_MODU', '_GARB', '_EXEC', '_FDEL', '_N_F_DELE', '_N_F_COPY', '_N_F_OPEN']);

export function classify(pdu: S7Pdu): number {
  const fc = pdu.fc;
  if (fc === 0x28 && pdu.piService !== null) {
    // P_PROGRAM (start, warm/cold restart) and unknown services stay control.
    if (PROGRAM_PI.has(pdu.piService) || pdu.piService.startsWith('_N_F_')) return CONFIG;
    return CONTROL;
  }
  return CLS.get(fc) ?? OTHER;
}
