// DNP3 application function codes in the shared class vocabulary (module.ts):
// IEEE 1815-2012 Table 4-1.
import { CONFIG, CONTROL, DIAGNOSTIC, FunctionTable, READ, SESSION, WRITE, type FunctionRow } from '../module.js';
import type { Dnp3Pdu } from './parser.js';

export const DNP3_ROWS: readonly FunctionRow[] = [
  [0, SESSION, 'CONFIRM'],
  [1, READ, 'READ'],
  [2, WRITE, 'WRITE'],
  [3, CONTROL, 'SELECT'],
  [4, CONTROL, 'OPERATE'],
  [5, CONTROL, 'DIRECT_OPERATE'],
  [6, CONTROL, 'DIRECT_OPERATE_NR'],
  [7, CONTROL, 'IMMED_FREEZE'],
  [8, CONTROL, 'IMMED_FREEZE_NR'],
  [9, CONTROL, 'FREEZE_CLEAR'],
  [10, CONTROL, 'FREEZE_CLEAR_NR'],
  [11, CONTROL, 'FREEZE_AT_TIME'],
  [12, CONTROL, 'FREEZE_AT_TIME_NR'],
  [13, CONFIG, 'COLD_RESTART'],
  [14, CONFIG, 'WARM_RESTART'],
  [15, CONFIG, 'INITIALIZE_DATA'],
  [16, CONFIG, 'INITIALIZE_APPL'],
  [17, CONFIG, 'START_APPL'],
  [18, CONFIG, 'STOP_APPL'],
  [19, CONFIG, 'SAVE_CONFIG'],
  [20, SESSION, 'ENABLE_UNSOLICITED'],
  [21, SESSION, 'DISABLE_UNSOLICITED'],
  [22, CONFIG, 'ASSIGN_CLASS'],
  [23, DIAGNOSTIC, 'DELAY_MEASURE'],
  [24, CONFIG, 'RECORD_CURRENT_TIME'],
  [25, CONFIG, 'OPEN_FILE'],
  [26, CONFIG, 'CLOSE_FILE'],
  [27, CONFIG, 'DELETE_FILE'],
  [28, CONFIG, 'GET_FILE_INFO'],
  [29, CONFIG, 'AUTHENTICATE_FILE'],
  [30, CONFIG, 'ABORT_FILE'],
  [31, CONFIG, 'ACTIVATE_CONFIG'],
  [32, SESSION, 'AUTHENTICATE_REQ'],
  [33, SESSION, 'AUTH_REQ_NO_ACK'],
  [129, READ, 'RESPONSE'],
  [130, READ, 'UNSOLICITED_RESPONSE'],
  [131, SESSION, 'AUTHENTICATE_RESP'],
];

export const DNP3_FUNCTIONS = new FunctionTable(DNP3_ROWS);

export function classifyDnp3(p: Dnp3Pdu): number {
  if (p.fc === 2) {
    // WRITE of time (g50) sets the clock; of file objects (g70) moves files.
    for (let i = 0; i < p.nobjects; i++) {
      const g = p.objects[i].group;
      if (g === 50 || g === 70) return CONFIG;
    }
    return WRITE;
  }
  return DNP3_FUNCTIONS.classOf(p.fc);
}
