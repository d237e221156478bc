// IEC 60870-5-104 over TCP 2404.
import type { ProtocolModule } from '../module.js';
import { IEC104_ANOMALIES } from './anomalies.js';
import { IEC104_ROWS, classifyIec104 } from './functions.js';
import { identifyIec104 } from './identity.js';
import { iec104 as parser, type Iec104Pdu, type Iec104State } from './parser.js';

export const iec104: ProtocolModule<Iec104State, Iec104Pdu> = {
  ...parser,
  title: 'IEC 60870-5-104',
  roleTerms: ['controlling station', 'controlled station'],
  functions: IEC104_ROWS,
  classify: classifyIec104,
  anomalies: IEC104_ANOMALIES,
  identify: identifyIec104,
};
