// The iec104 members of the PDU and flow records, written as bytes (the hot
// path of --pdus); beside the parser the way Suricata keeps log.rs beside
// the parser.
import { lit, type JsonOut } from '../../output/json-out.js';
import { Iec104Frame, Iec104U, type Iec104Pdu, type Iec104State } from './parser.js';

/** The PDU member's constant pieces, encoded once (JsonOut.lit). */
const PJ = {
  frameI: lit('{"frame":"I","tx":'),
  rx: lit(',"rx":'),
  typeId: lit(',"type_id":'),
  cot: lit(',"cot":'),
  oa: lit(',"oa":'),
  ca: lit(',"ca":'),
  ioa: lit(',"ioa":'),
  nobj: lit(',"nobj":'),
  frameS: lit('{"frame":"S","rx":'),
  frameU: lit('{"frame":"U","u":"'),
  quote: lit('"'),
  seqAnomaly: lit(',"seq_anomaly":"'),
  close: lit('}'),
  negTrue: lit(',"neg":true'),
  negFalse: lit(',"neg":false'),
  testTrue: lit(',"test":true'),
  testFalse: lit(',"test":false'),
};

export function writeIec104Pdu(o: JsonOut, pdu: Iec104Pdu): void {
  if (pdu.frame === Iec104Frame.I) {
    o.lit(PJ.frameI);
    o.num(pdu.tx);
    o.lit(PJ.rx);
    o.num(pdu.rx);
    if (pdu.hasAsdu) {
      o.lit(PJ.typeId);
      o.num(pdu.typeId);
      o.lit(PJ.cot);
      o.num(pdu.cot);
      o.lit(pdu.neg ? PJ.negTrue : PJ.negFalse);
      o.lit(pdu.test ? PJ.testTrue : PJ.testFalse);
      o.lit(PJ.oa);
      o.num(pdu.oa);
      o.lit(PJ.ca);
      o.num(pdu.ca);
      if (pdu.hasIoa) {
        o.lit(PJ.ioa);
        o.num(pdu.ioa);
      }
      o.lit(PJ.nobj);
      o.num(pdu.nobj);
    }
  } else if (pdu.frame === Iec104Frame.S) {
    o.lit(PJ.frameS);
    o.num(pdu.rx);
  } else {
    o.lit(PJ.frameU);
    o.raw(uName(pdu.u));
    o.lit(PJ.quote);
  }
  if (pdu.seqAnomaly !== '') {
    o.lit(PJ.seqAnomaly);
    o.raw(pdu.seqAnomaly);
    o.lit(PJ.quote);
  }
  o.lit(PJ.close);
}

export function writeIec104Flow(o: JsonOut, st: Iec104State): void {
  o.raw('{"type_ids":');
  st.typeIds.write(o);
  o.raw(',"causes":');
  st.causes.write(o);
  o.raw(',"commands":');
  o.num(st.commands);
  o.raw(',"seq_anomalies":');
  o.num(st.seqAnomalies);
  o.raw(',"i":');
  o.num(st.iFrames);
  o.raw(',"s":');
  o.num(st.sFrames);
  o.raw(',"u":');
  o.num(st.uFrames);
  o.raw('}');
}

function uName(u: number): string {
  switch (u) {
    case Iec104U.STARTDT_ACT:
      return 'STARTDT_ACT';
    case Iec104U.STARTDT_CON:
      return 'STARTDT_CON';
    case Iec104U.STOPDT_ACT:
      return 'STOPDT_ACT';
    case Iec104U.STOPDT_CON:
      return 'STOPDT_CON';
    case Iec104U.TESTFR_ACT:
      return 'TESTFR_ACT';
    default:
      return 'TESTFR_CON';
  }
}
