// Modbus/TCP (Modbus Application Protocol V1.1b3, MBAP over TCP 502).
import type { ProtocolModule } from '../module.js';
import { MODBUS_ANOMALIES } from './anomalies.js';
import { MODBUS_ROWS, classifyModbus } from './functions.js';
import { identifyModbus } from './identity.js';
import { modbus as parser, type ModbusPdu, type ModbusState } from './parser.js';

export const modbus: ProtocolModule<ModbusState, ModbusPdu> = {
  ...parser,
  title: 'Modbus/TCP',
  roleTerms: ['client', 'server'],
  functions: MODBUS_ROWS,
  classify: classifyModbus,
  anomalies: MODBUS_ANOMALIES,
  identify: identifyModbus,
};
