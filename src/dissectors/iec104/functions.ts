// IEC 60870-5-101/104 type identifications in the shared class vocabulary
// (module.ts): 104 clause 8 and 101 7.2.1.1; 41 from Ed. 2; 81..92 are the
// IEC 62351-5 secure-authentication ASDUs.
import { CONFIG, CONTROL, DIAGNOSTIC, FunctionTable, READ, SESSION, type FunctionRow } from '../module.js';
import type { Iec104Pdu } from './parser.js';

export const IEC104_ROWS: FunctionRow[] = [
  [1, READ, 'M_SP_NA_1'],
  [2, READ, 'M_SP_TA_1'],
  [3, READ, 'M_DP_NA_1'],
  [4, READ, 'M_DP_TA_1'],
  [5, READ, 'M_ST_NA_1'],
  [6, READ, 'M_ST_TA_1'],
  [7, READ, 'M_BO_NA_1'],
  [8, READ, 'M_BO_TA_1'],
  [9, READ, 'M_ME_NA_1'],
  [10, READ, 'M_ME_TA_1'],
  [11, READ, 'M_ME_NB_1'],
  [12, READ, 'M_ME_TB_1'],
  [13, READ, 'M_ME_NC_1'],
  [14, READ, 'M_ME_TC_1'],
  [15, READ, 'M_IT_NA_1'],
  [16, READ, 'M_IT_TA_1'],
  [17, READ, 'M_EP_TA_1'],
  [18, READ, 'M_EP_TB_1'],
  [19, READ, 'M_EP_TC_1'],
  [20, READ, 'M_PS_NA_1'],
  [21, READ, 'M_ME_ND_1'],
  [30, READ, 'M_SP_TB_1'],
  [31, READ, 'M_DP_TB_1'],
  [32, READ, 'M_ST_TB_1'],
  [33, READ, 'M_BO_TB_1'],
  [34, READ, 'M_ME_TD_1'],
  [35, READ, 'M_ME_TE_1'],
  [36, READ, 'M_ME_TF_1'],
  [37, READ, 'M_IT_TB_1'],
  [38, READ, 'M_EP_TD_1'],
  [39, READ, 'M_EP_TE_1'],
  [40, READ, 'M_EP_TF_1'],
  [41, READ, 'S_IT_TC_1'],
  [45, CONTROL, 'C_SC_NA_1'],
  [46, CONTROL, 'C_DC_NA_1'],
  [47, CONTROL, 'C_RC_NA_1'],
  [48, CONTROL, 'C_SE_NA_1'],
  [49, CONTROL, 'C_SE_NB_1'],
  [50, CONTROL, 'C_SE_NC_1'],
  [51, CONTROL, 'C_BO_NA_1'],
  [58, CONTROL, 'C_SC_TA_1'],
  [59, CONTROL, 'C_DC_TA_1'],
  [60, CONTROL, 'C_RC_TA_1'],
  [61, CONTROL, 'C_SE_TA_1'],
  [62, CONTROL, 'C_SE_TB_1'],
  [63, CONTROL, 'C_SE_TC_1'],
  [64, CONTROL, 'C_BO_TA_1'],
  [70, SESSION, 'M_EI_NA_1'],
  [100, READ, 'C_IC_NA_1'],
  [101, READ, 'C_CI_NA_1'],
  [102, READ, 'C_RD_NA_1'],
  [103, CONFIG, 'C_CS_NA_1'],
  [104, DIAGNOSTIC, 'C_TS_NA_1'],
  [105, CONFIG, 'C_RP_NA_1'],
  [106, DIAGNOSTIC, 'C_CD_NA_1'],
  [107, DIAGNOSTIC, 'C_TS_TA_1'],
  [110, CONFIG, 'P_ME_NA_1'],
  [111, CONFIG, 'P_ME_NB_1'],
  [112, CONFIG, 'P_ME_NC_1'],
  [113, CONFIG, 'P_AC_NA_1'],
  [120, CONFIG, 'F_FR_NA_1'],
  [121, CONFIG, 'F_SR_NA_1'],
  [122, CONFIG, 'F_SC_NA_1'],
  [123, CONFIG, 'F_LS_NA_1'],
  [124, CONFIG, 'F_AF_NA_1'],
  [125, CONFIG, 'F_SG_NA_1'],
  [126, CONFIG, 'F_DR_TA_1'],
  [127, CONFIG, 'F_SC_NB_1'],
];
for (let t = 81; t <= 92; t++) IEC104_ROWS.push([t, SESSION, `secure authentication (type ${t})`]);

export const IEC104_FUNCTIONS = new FunctionTable(IEC104_ROWS);

export function classifyIec104(p: Iec104Pdu): number {
  const fc = p.fc;
  // Parameters (110..113) returned by an interrogation (causes 20..36) are read, not set.
  if (fc >= 110 && fc <= 113 && p.cot >= 20 && p.cot <= 36) return READ;
  return IEC104_FUNCTIONS.classOf(fc);
}
