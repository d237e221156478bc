// DNP3 over TCP or UDP 20000 (IEEE 1815-2012).
import type { ProtocolModule } from '../module.js';
import { DNP3_ANOMALIES } from './anomalies.js';
import { DNP3_ROWS, classifyDnp3 } from './functions.js';
import { identifyDnp3 } from './identity.js';
import { dnp3 as parser, type Dnp3Pdu, type Dnp3State } from './parser.js';

export const dnp3: ProtocolModule<Dnp3State, Dnp3Pdu> = {
  ...parser,
  title: 'DNP3',
  roleTerms: ['master', 'outstation'],
  functions: DNP3_ROWS,
  classify: classifyDnp3,
  anomalies: DNP3_ANOMALIES,
  identify: identifyDnp3,
};
