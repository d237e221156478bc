// The modbus members of the PDU and flow records, written as bytes (the hot
// path of --pdus); beside the parser the way Suricata keeps log.rs beside
// the parser.
import { lit, type JsonOut } from '../../output/json-out.js';
import { idName, type ModbusPdu, type ModbusState } from './parser.js';

/** The PDU member's constant pieces, encoded once (JsonOut.lit). */
const PJ = {
  tid: lit('{"tid":'),
  unit: lit(',"unit":'),
  fc: lit(',"fc":'),
  exception: lit(',"exception":'),
  null: lit('null'),
  addr: lit(',"addr":'),
  qty: lit(',"qty":'),
  value: lit(',"value":'),
  waddr: lit(',"waddr":'),
  wqty: lit(',"wqty":'),
  sub: lit(',"sub":'),
  mei: lit(',"mei":'),
  byteCount: lit(',"byte_count":'),
  conformity: lit(',"conformity":'),
  moreFollows: lit(',"more_follows":'),
  nextObjectId: lit(',"next_object_id":'),
  deviceId: lit(',"device_id":{'),
  close: lit('}'),
  respTrue: lit(',"resp":true'),
  respFalse: lit(',"resp":false'),
};

export function writeModbusPdu(o: JsonOut, p: ModbusPdu): void {
  o.lit(PJ.tid);
  o.num(p.tid);
  o.lit(PJ.unit);
  o.num(p.unit);
  o.lit(PJ.fc);
  o.num(p.fc);
  o.lit(PJ.exception);
  if (p.exception === null) o.lit(PJ.null);
  else o.num(p.exception);
  o.lit(p.resp ? PJ.respTrue : PJ.respFalse);
  if (p.addr >= 0) {
    o.lit(PJ.addr);
    o.num(p.addr);
  }
  if (p.qty >= 0) {
    o.lit(PJ.qty);
    o.num(p.qty);
  }
  if (p.value >= 0) {
    o.lit(PJ.value);
    o.num(p.value);
  }
  if (p.waddr >= 0) {
    o.lit(PJ.waddr);
    o.num(p.waddr);
  }
  if (p.wqty >= 0) {
    o.lit(PJ.wqty);
    o.num(p.wqty);
  }
  if (p.sub >= 0) {
    o.lit(PJ.sub);
    o.num(p.sub);
  }
  if (p.mei >= 0) {
    o.lit(PJ.mei);
    o.num(p.mei);
  }
  if (p.byteCount >= 0) {
    o.lit(PJ.byteCount);
    o.num(p.byteCount);
  }
  if (p.conformity >= 0) {
    o.lit(PJ.conformity);
    o.num(p.conformity);
    o.lit(PJ.moreFollows);
    o.num(p.moreFollows);
    o.lit(PJ.nextObjectId);
    o.num(p.nextObjectId);
  }
  const ib = p.idBuf;
  if (ib !== null) {
    o.lit(PJ.deviceId);
    for (let i = 0; i < p.idCount; i++) {
      if (i > 0) o.raw(',');
      o.str(idName(p.idIds[i]));
      o.raw(':');
      o.str(ib.toString('utf8', p.idPos[i], p.idPos[i] + p.idLen[i]));
    }
    o.lit(PJ.close);
  }
  o.lit(PJ.close);
}

export function writeModbusFlow(o: JsonOut, st: ModbusState): void {
  o.raw('{"fc":');
  st.fcCount.write(o);
  o.raw(',"exceptions":');
  o.num(st.exceptions);
  o.raw(',"units":[');
  let first = true;
  for (let w = 0; w < 8; w++) {
    const bits = st.unitSeen[w];
    if (bits === 0) continue;
    for (let b = 0; b < 32; b++) {
      if ((bits & (1 << b)) === 0) continue;
      if (!first) o.raw(',');
      o.num(w * 32 + b);
      first = false;
    }
  }
  o.raw('],"requests":');
  o.num(st.requests);
  o.raw(',"responses":');
  o.num(st.responses);
  o.raw(',"open_transactions":');
  o.num(st.txN);
  o.raw('}');
}
