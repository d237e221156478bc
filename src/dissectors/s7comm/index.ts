// Siemens S7comm / S7comm-plus as one protocol module (see ../module.ts).
import { anchorBytes } from '../types.js';
import type { ProtocolModule } from '../module.js';
import type { JsonForms } from '../types.js';
import { S7_ANOMALIES } from './anomalies.js';
import { classify, S7_FUNCTIONS } from './functions.js';
import { identify } from './identity.js';
import { createState, gap, parse, probe, releaseState, S7_MAX_TPKT, type S7Pdu, type S7State } from './parser.js';
import { flowJson, flowWrite, pduJson, pduWrite } from './records.js';

/** The module, with the string forms of its records for tests. */
export const s7comm: ProtocolModule<S7State, S7Pdu> & JsonForms<S7State, S7Pdu> = {
  name: 's7comm',
  title: 'Siemens S7comm',
  roleTerms: ['client', 'PLC'],
  tcp: true,
  udp: false,
  ports: [102],
  maxPdu: S7_MAX_TPKT,
  minProbe: 7,
  anchorAt: 0, // TPKT version 3
  anchorOk: anchorBytes(3),
  probe,
  createState,
  releaseState,
  parse,
  gap,
  pduWrite,
  pduJson,
  flowWrite,
  flowJson,
  functions: S7_FUNCTIONS,
  classify,
  anomalies: S7_ANOMALIES,
  identify,
};
