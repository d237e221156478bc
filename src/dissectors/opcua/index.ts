// OPC UA binary (UA TCP) over TCP 4840 (OPC 10000-6).
import type { ProtocolModule } from '../module.js';
import { OPCUA_ANOMALIES } from './anomalies.js';
import { OPCUA_ROWS, classifyOpcua } from './functions.js';
import { identifyOpcua } from './identity.js';
import { opcua as parser, type OpcuaPdu, type OpcuaState } from './parser.js';

export const opcua: ProtocolModule<OpcuaState, OpcuaPdu> = {
  ...parser,
  title: 'OPC UA',
  roleTerms: ['client', 'server'],
  functions: OPCUA_ROWS,
  classify: classifyOpcua,
  anomalies: OPCUA_ANOMALIES,
  identify: identifyOpcua,
};
