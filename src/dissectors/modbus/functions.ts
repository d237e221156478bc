// Modbus function codes in the shared class vocabulary (module.ts).
// Modbus Application Protocol V1.1b3 §6 (public codes); 9, 10, 13, 14, 18, 19
// are the legacy Modicon codes of the PI-MBUS-300 reference; 90 is Schneider
// UMAS, the engineering channel (program download, run/stop), classed by its
// most dangerous use since its sub-function is opaque here.
import { CONFIG, DIAGNOSTIC, FunctionTable, OTHER, READ, WRITE, type FunctionRow } from '../module.js';
import type { ModbusPdu } from './parser.js';

export const MODBUS_ROWS: FunctionRow[] = [
  [1, READ, 'Read Coils'],
  [2, READ, 'Read Discrete Inputs'],
  [3, READ, 'Read Holding Registers'],
  [4, READ, 'Read Input Registers'],
  [5, WRITE, 'Write Single Coil'],
  [6, WRITE, 'Write Single Register'],
  [7, DIAGNOSTIC, 'Read Exception Status'],
  [8, DIAGNOSTIC, 'Diagnostics'],
  [9, CONFIG, 'Program (484)'],
  [10, DIAGNOSTIC, 'Poll (484)'],
  [11, DIAGNOSTIC, 'Get Comm Event Counter'],
  [12, DIAGNOSTIC, 'Get Comm Event Log'],
  [13, CONFIG, 'Program Controller'],
  [14, DIAGNOSTIC, 'Poll Controller'],
  [15, WRITE, 'Write Multiple Coils'],
  [16, WRITE, 'Write Multiple Registers'],
  [17, DIAGNOSTIC, 'Report Server ID'],
  [18, CONFIG, 'Program (884/M84)'],
  [19, CONFIG, 'Reset Comm Link'],
  [20, CONFIG, 'Read File Record'],
  [21, CONFIG, 'Write File Record'],
  [22, WRITE, 'Mask Write Register'],
  [23, WRITE, 'Read/Write Multiple Registers'],
  [24, READ, 'Read FIFO Queue'],
  [43, DIAGNOSTIC, 'Encapsulated Interface Transport'],
  [90, CONFIG, 'Schneider UMAS'],
];
for (let f = 65; f <= 72; f++) MODBUS_ROWS.push([f, OTHER, 'user-defined']);
for (let f = 100; f <= 110; f++) MODBUS_ROWS.push([f, OTHER, 'user-defined']);

export const MODBUS_FUNCTIONS = new FunctionTable(MODBUS_ROWS);

export function classifyModbus(p: ModbusPdu): number {
  const fc = p.fc;
  // Diagnostics 01 Restart Communications Option and 04 Force Listen Only
  // Mode take the device off the bus or restart its port.
  if (fc === 8 && (p.sub === 1 || p.sub === 4)) return CONFIG;
  if (fc === 43 && p.mei === 13) return OTHER; // CANopen general reference: opaque
  return MODBUS_FUNCTIONS.classOf(fc);
}
