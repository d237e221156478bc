// The "s7comm" members of the PDU and flow records, written as bytes.
import { jsonText, lit, type JsonOut } from '../../output/json-out.js';
import { COTP_CC, COTP_CR, COTP_DC, COTP_DR, COTP_ER, type S7Pdu, type S7State } from './parser.js';
import { s7FunctionName } from './functions.js';

const PJ = {
  rosctr: lit('{"rosctr":'),
  pduref: lit(',"pduref":'),
  func: lit(',"func":'),
  funcName: lit(',"func_name":'),
  items: lit(',"items":'),
  area: lit(',"area":'),
  db: lit(',"db":'),
  address: lit(',"address":'),
  pi: lit(',"pi_service":'),
  funcgroup: lit(',"funcgroup":'),
  subfunc: lit(',"subfunc":'),
  szlId: lit(',"szl_id":'),
  szlIndex: lit(',"szl_index":'),
  errClass: lit(',"err_class":'),
  errCode: lit(',"err_code":'),
  plusFalse: lit(',"plus":false'),
  plusTrue: lit(',"plus":true'),
  version: lit(',"version":'),
  opcode: lit(',"opcode":'),
  plusFunc: lit(',"plus_func":'),
  cotp: lit(',"cotp":'),
  srcTsap: lit(',"src_tsap":'),
  dstTsap: lit(',"dst_tsap":'),
  rack: lit(',"rack":'),
  slot: lit(',"slot":'),
  pduSize: lit(',"pdu_size":'),
  orderNumber: lit(',"order_number":'),
  firmware: lit(',"firmware":'),
  systemName: lit(',"system_name":'),
  moduleName: lit(',"module_name":'),
  plantName: lit(',"plant_name":'),
  serial: lit(',"serial":'),
  moduleType: lit(',"module_type":'),
  null: lit('null'),
  close: lit('}'),
};

const COTP_NAMES = new Map([
  [COTP_CR, '"CR"'],
  [COTP_CC, '"CC"'],
  [COTP_DR, '"DR"'],
  [COTP_DC, '"DC"'],
  [COTP_ER, '"ER"'],
]);

function num(o: JsonOut, key: Uint8Array, v: number): void {
  o.lit(key);
  if (v < 0) o.lit(PJ.null);
  else o.num(v);
}

function str(o: JsonOut, key: Uint8Array, v: string | null): void {
  o.lit(key);
  if (v === null) o.lit(PJ.null);
  else o.str(v);
}

/** Optional extras: written only when present. */
function optStr(o: JsonOut, key: Uint8Array, v: string | null): void {
  if (v !== null) {
    o.lit(key);
    o.str(v);
  }
}

export function pduWrite(o: JsonOut, p: S7Pdu): void {
  o.lit(PJ.rosctr);
  if (p.rosctr < 0) o.lit(PJ.null);
  else o.num(p.rosctr);
  num(o, PJ.pduref, p.pduref);
  num(o, PJ.func, p.func);
  str(o, PJ.funcName, p.fc >= 0 ? s7FunctionName(p.fc) : null);
  num(o, PJ.items, p.items);
  num(o, PJ.area, p.area);
  num(o, PJ.db, p.db);
  num(o, PJ.address, p.address);
  str(o, PJ.pi, p.piService);
  num(o, PJ.funcgroup, p.funcgroup);
  num(o, PJ.subfunc, p.subfunc);
  num(o, PJ.szlId, p.szlId);
  num(o, PJ.szlIndex, p.szlIndex);
  num(o, PJ.errClass, p.errClass);
  num(o, PJ.errCode, p.errCode);
  if (p.plus) {
    o.lit(PJ.plusTrue);
    num(o, PJ.version, p.version);
    num(o, PJ.opcode, p.opcode);
    num(o, PJ.plusFunc, p.plusFunc);
  } else {
    o.lit(PJ.plusFalse);
  }
  if (p.cotp >= 0) {
    o.lit(PJ.cotp);
    o.raw(COTP_NAMES.get(p.cotp) ?? 'null');
    str(o, PJ.srcTsap, p.srcTsap);
    str(o, PJ.dstTsap, p.dstTsap);
    num(o, PJ.rack, p.rack);
    num(o, PJ.slot, p.slot);
  }
  if (p.pduSize >= 0) {
    o.lit(PJ.pduSize);
    o.num(p.pduSize);
  }
  optStr(o, PJ.orderNumber, p.orderNumber);
  optStr(o, PJ.firmware, p.firmware);
  optStr(o, PJ.systemName, p.systemName);
  optStr(o, PJ.moduleName, p.moduleName);
  optStr(o, PJ.plantName, p.plantName);
  optStr(o, PJ.serial, p.serial);
  optStr(o, PJ.moduleType, p.moduleType);
  o.lit(PJ.close);
}

export function pduJson(p: S7Pdu): string {
  return jsonText(pduWrite, p);
}

export function flowWrite(o: JsonOut, st: S7State): void {
  o.raw('{"fc":{');
  let first = true;
  for (const [k, v] of st.fcCount) {
    o.raw(first ? '"' : ',"');
    o.num(k);
    o.raw('":');
    o.num(v);
    first = false;
  }
  o.raw('},"jobs":');
  o.num(st.jobs);
  o.raw(',"acks":');
  o.num(st.acks);
  o.raw(',"userdata":');
  o.num(st.userdata);
  o.raw(',"plus":');
  o.num(st.plusPdus);
  o.raw(',"errors":');
  o.num(st.errors);
  o.raw(',"reassembled":');
  o.num(st.reassembled);
  o.raw(',"pdu_size":');
  if (st.pduSize > 0) o.num(st.pduSize);
  else o.raw('null');
  o.raw(',"rack":');
  if (st.rack >= 0) o.num(st.rack);
  else o.raw('null');
  o.raw(',"slot":');
  if (st.slot >= 0) o.num(st.slot);
  else o.raw('null');
  o.raw('}');
}

export function flowJson(st: S7State): string {
  return jsonText(flowWrite, st);
}
