// One vocabulary of function classes across the four protocols, so a baseline
// and a policy can say "this master only reads" whatever it speaks. One table
// per protocol maps the raw code (kept alongside) to a class; a few codes are
// refined by a field of the PDU (Modbus diagnostics sub-function, DNP3 WRITE
// of time or file objects, IEC 104 parameters read by interrogation).
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
import type { AppName, PduBase } from '../dissectors/types.js';
import type { ModbusPdu } from '../dissectors/modbus.js';
import type { Dnp3Pdu } from '../dissectors/dnp3.js';
import type { Iec104Pdu } from '../dissectors/iec104.js';
import { classify as s7Classify, S7_FUNCTIONS } from '../dissectors/s7comm/functions.js';
import type { S7Pdu } from '../dissectors/s7comm/parser.js';

export const FUNCTION_CLASSES = ['read', 'write', 'control', 'config', 'diagnostic', 'session', 'other'] as const;
export type FunctionClass = (typeof FUNCTION_CLASSES)[number];

export const READ = 0;
export const WRITE = 1;
export const CONTROL = 2;
export const CONFIG = 3;
export const DIAGNOSTIC = 4;
export const SESSION = 5;
export const OTHER = 6;

/** Classes whose first use on a talker/endpoint pair is a high-severity alert. */
export function isHighClass(c: number): boolean {
  return c === WRITE || c === CONTROL || c === CONFIG;
}

export function classIndex(name: string): number {
  return (FUNCTION_CLASSES as readonly string[]).indexOf(name);
}

type Row = readonly [code: number, cls: number, name: string];

interface Table {
  cls: Map<number, number>;
  name: Map<number, string>;
  /** Class + 1 for codes below 256 (0: not in the table): the per-PDU lookup. */
  small: Uint8Array;
}

function table(rows: readonly Row[]): Table {
  const small = new Uint8Array(256);
  for (const [code, c] of rows) if (code < 256) small[code] = c + 1;
  return { cls: new Map(rows.map((r) => [r[0], r[1]])), name: new Map(rows.map((r) => [r[0], r[2]])), small };
}

function lookup(t: Table, fc: number): number {
  if (fc < 256) {
    const c = t.small[fc];
    return c === 0 ? OTHER : c - 1;
  }
  return t.cls.get(fc) ?? OTHER;
}

// Modbus Application Protocol V1.1b3 §6 (public codes); 9, 10, 13, 14, 18, 19
// are the legacy Modicon codes of the PI-MBUS-300 reference; 90 is Schneider
// UMAS, the engineering channel (program download, run/stop), classed by its
// most dangerous use since its sub-function is opaque here.
const MODBUS_ROWS: Row[] = [
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
const MODBUS = table(MODBUS_ROWS);

// IEEE 1815-2012 Table 4-1 (application layer function codes).
const DNP3 = table([
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
]);

// IEC 60870-5-101/104 type identifications (104 clause 8 and 101 7.2.1.1;
// 41 from Ed. 2; 81..92 are the IEC 62351-5 secure-authentication ASDUs).
const IEC104_ROWS: Row[] = [
  [1, READ, 'M_SP_NA_1'], [2, READ, 'M_SP_TA_1'], [3, READ, 'M_DP_NA_1'], [4, READ, 'M_DP_TA_1'],
  [5, READ, 'M_ST_NA_1'], [6, READ, 'M_ST_TA_1'], [7, READ, 'M_BO_NA_1'], [8, READ, 'M_BO_TA_1'],
  [9, READ, 'M_ME_NA_1'], [10, READ, 'M_ME_TA_1'], [11, READ, 'M_ME_NB_1'], [12, READ, 'M_ME_TB_1'],
  [13, READ, 'M_ME_NC_1'], [14, READ, 'M_ME_TC_1'], [15, READ, 'M_IT_NA_1'], [16, READ, 'M_IT_TA_1'],
  [17, READ, 'M_EP_TA_1'], [18, READ, 'M_EP_TB_1'], [19, READ, 'M_EP_TC_1'], [20, READ, 'M_PS_NA_1'],
  [21, READ, 'M_ME_ND_1'], [30, READ, 'M_SP_TB_1'], [31, READ, 'M_DP_TB_1'], [32, READ, 'M_ST_TB_1'],
  [33, READ, 'M_BO_TB_1'], [34, READ, 'M_ME_TD_1'], [35, READ, 'M_ME_TE_1'], [36, READ, 'M_ME_TF_1'],
  [37, READ, 'M_IT_TB_1'], [38, READ, 'M_EP_TD_1'], [39, READ, 'M_EP_TE_1'], [40, READ, 'M_EP_TF_1'],
  [41, READ, 'S_IT_TC_1'],
  [45, CONTROL, 'C_SC_NA_1'], [46, CONTROL, 'C_DC_NA_1'], [47, CONTROL, 'C_RC_NA_1'], [48, CONTROL, 'C_SE_NA_1'],
  [49, CONTROL, 'C_SE_NB_1'], [50, CONTROL, 'C_SE_NC_1'], [51, CONTROL, 'C_BO_NA_1'],
  [58, CONTROL, 'C_SC_TA_1'], [59, CONTROL, 'C_DC_TA_1'], [60, CONTROL, 'C_RC_TA_1'], [61, CONTROL, 'C_SE_TA_1'],
  [62, CONTROL, 'C_SE_TB_1'], [63, CONTROL, 'C_SE_TC_1'], [64, CONTROL, 'C_BO_TA_1'],
  [70, SESSION, 'M_EI_NA_1'],
  [100, READ, 'C_IC_NA_1'], [101, READ, 'C_CI_NA_1'], [102, READ, 'C_RD_NA_1'], [103, CONFIG, 'C_CS_NA_1'],
  [104, DIAGNOSTIC, 'C_TS_NA_1'], [105, CONFIG, 'C_RP_NA_1'], [106, DIAGNOSTIC, 'C_CD_NA_1'], [107, DIAGNOSTIC, 'C_TS_TA_1'],
  [110, CONFIG, 'P_ME_NA_1'], [111, CONFIG, 'P_ME_NB_1'], [112, CONFIG, 'P_ME_NC_1'], [113, CONFIG, 'P_AC_NA_1'],
  [120, CONFIG, 'F_FR_NA_1'], [121, CONFIG, 'F_SR_NA_1'], [122, CONFIG, 'F_SC_NA_1'], [123, CONFIG, 'F_LS_NA_1'],
  [124, CONFIG, 'F_AF_NA_1'], [125, CONFIG, 'F_SG_NA_1'], [126, CONFIG, 'F_DR_TA_1'], [127, CONFIG, 'F_SC_NB_1'],
];
for (let t = 81; t <= 92; t++) IEC104_ROWS.push([t, SESSION, `secure authentication (type ${t})`]);
const IEC104 = table(IEC104_ROWS);

// OPC 10000-4 services by their binary encoding ids (request and response
// alike; see src/dissectors/opcua-services.ts for the ids).
const OPCUA_SERVICES: readonly [req: number, resp: number, cls: number, name: string][] = [
  [422, 425, SESSION, 'FindServers'],
  [12208, 12209, SESSION, 'FindServersOnNetwork'],
  [428, 431, SESSION, 'GetEndpoints'],
  [437, 440, CONFIG, 'RegisterServer'],
  [12211, 12212, CONFIG, 'RegisterServer2'],
  [446, 449, SESSION, 'OpenSecureChannel'],
  [452, 455, SESSION, 'CloseSecureChannel'],
  [461, 464, SESSION, 'CreateSession'],
  [467, 470, SESSION, 'ActivateSession'],
  [473, 476, SESSION, 'CloseSession'],
  [479, 482, SESSION, 'Cancel'],
  [488, 491, CONFIG, 'AddNodes'],
  [494, 497, CONFIG, 'AddReferences'],
  [500, 503, CONFIG, 'DeleteNodes'],
  [506, 509, CONFIG, 'DeleteReferences'],
  [527, 530, READ, 'Browse'],
  [533, 536, READ, 'BrowseNext'],
  [554, 557, READ, 'TranslateBrowsePathsToNodeIds'],
  [560, 563, SESSION, 'RegisterNodes'],
  [566, 569, SESSION, 'UnregisterNodes'],
  [615, 618, READ, 'QueryFirst'],
  [621, 624, READ, 'QueryNext'],
  [631, 634, READ, 'Read'],
  [664, 667, READ, 'HistoryRead'],
  [673, 676, WRITE, 'Write'],
  [700, 703, WRITE, 'HistoryUpdate'],
  [712, 715, CONTROL, 'Call'],
  [751, 754, READ, 'CreateMonitoredItems'],
  [763, 766, READ, 'ModifyMonitoredItems'],
  [769, 772, READ, 'SetMonitoringMode'],
  [775, 778, READ, 'SetTriggering'],
  [781, 784, READ, 'DeleteMonitoredItems'],
  [787, 790, READ, 'CreateSubscription'],
  [793, 796, READ, 'ModifySubscription'],
  [799, 802, READ, 'SetPublishingMode'],
  [826, 829, READ, 'Publish'],
  [832, 835, READ, 'Republish'],
  [841, 844, READ, 'TransferSubscriptions'],
  [847, 850, READ, 'DeleteSubscriptions'],
];
const OPCUA_ROWS: Row[] = [[397, OTHER, 'ServiceFault']];
for (const [req, resp, cls, name] of OPCUA_SERVICES) OPCUA_ROWS.push([req, cls, `${name}Request`], [resp, cls, `${name}Response`]);
const OPCUA = table(OPCUA_ROWS);

const TABLES: Record<AppName, Table> = { modbus: MODBUS, dnp3: DNP3, iec104: IEC104, opcua: OPCUA, s7comm: table(S7_FUNCTIONS) };

/** Class of a raw code from the protocol's table alone (no refinement). */
export function codeClass(app: AppName, fc: number): number {
  return TABLES[app].cls.get(fc) ?? OTHER;
}

/** The table's name of a code, or undefined. */
export function codeName(app: AppName, fc: number): string | undefined {
  return TABLES[app].name.get(fc);
}

/** Codes present in a protocol's table (for tests and documentation). */
export function tableCodes(app: AppName): number[] {
  return [...TABLES[app].cls.keys()].sort((a, b) => a - b);
}

/** The class of one decoded PDU (pdu.fc >= 0). Allocates nothing. */
export function pduClass(app: AppName, pdu: PduBase): number {
  const fc = pdu.fc;
  switch (app) {
    case 'modbus': {
      const p = pdu as ModbusPdu;
      // Diagnostics 01 Restart Communications Option and 04 Force Listen Only
      // Mode take the device off the bus or restart its port.
      if (fc === 8 && (p.sub === 1 || p.sub === 4)) return CONFIG;
      if (fc === 43 && p.mei === 13) return OTHER; // CANopen general reference: opaque
      return lookup(MODBUS, fc);
    }
    case 'dnp3': {
      const p = pdu as Dnp3Pdu;
      if (fc === 2) {
        // WRITE of time (g50) sets the clock; of file objects (g70) moves files.
        for (let i = 0; i < p.nobjects; i++) {
          const g = p.objects[i].group;
          if (g === 50 || g === 70) return CONFIG;
        }
        return WRITE;
      }
      return lookup(DNP3, fc);
    }
    case 'iec104': {
      const p = pdu as Iec104Pdu;
      // Parameters (110..113) returned by an interrogation (causes 20..36) are read, not set.
      if (fc >= 110 && fc <= 113 && p.cot >= 20 && p.cot <= 36) return READ;
      return lookup(IEC104, fc);
    }
    case 'opcua':
      return lookup(OPCUA, fc);
    case 's7comm':
      return s7Classify(pdu as S7Pdu);
  }
  return OTHER;
}
