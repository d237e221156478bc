// EtherNet/IP + CIP as one protocol module (see ../module.ts).
import type { ProtocolModule } from '../module.js';
import type { JsonForms } from '../types.js';
import { ENIP_ANOMALIES } from './anomalies.js';
import { classify, ENIP_FUNCTIONS } from './functions.js';
import { identify } from './identity.js';
import { createState, gap, HEADER, MAX_LENGTH, parse, probe, PROBE_FIRST, releaseState, type EnipPdu, type EnipState } from './parser.js';
import { flowJson, flowWrite, pduJson, pduWrite } from './records.js';

/** The module, with the string forms of its records for tests. */
export const enip: ProtocolModule<EnipState, EnipPdu> & JsonForms<EnipState, EnipPdu> = {
  name: 'enip',
  title: 'EtherNet/IP (CIP)',
  roleTerms: ['originator', 'target'],
  tcp: true,
  udp: true,
  // 44818 explicit messaging (tcp) and ListIdentity (udp), 2222 implicit I/O (udp).
  ports: [44818, 2222],
  maxPdu: HEADER + MAX_LENGTH, // 65 535
  minProbe: HEADER,
  anchorAt: 0, // the command's low byte, or 0x02 (an I/O datagram's item count)
  anchorOk: PROBE_FIRST,
  functions: ENIP_FUNCTIONS,
  classify,
  anomalies: ENIP_ANOMALIES,
  probe,
  createState,
  releaseState,
  parse,
  gap,
  pduWrite,
  pduJson,
  flowWrite,
  flowJson,
  identify,
};
