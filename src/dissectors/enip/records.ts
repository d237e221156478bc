// The "enip" members of PDU and flow records, written as bytes.
import { jsonText, lit, type JsonOut } from '../../output/json-out.js';
import type { EnipPdu, EnipState } from './parser.js';

const PJ = {
  command: lit('{"command":'),
  session: lit(',"session":'),
  status: lit(',"status":'),
  service: lit(',"service":'),
  respTrue: lit(',"resp":true'),
  respFalse: lit(',"resp":false'),
  cls: lit(',"class":'),
  instance: lit(',"instance":'),
  attribute: lit(',"attribute":'),
  tag: lit(',"tag":'),
  generalStatus: lit(',"general_status":'),
  extStatus: lit(',"ext_status":'),
  member: lit(',"member":'),
  connId: lit(',"conn_id":'),
  seq: lit(',"seq":'),
  cipSeq: lit(',"cip_seq":'),
  msp: lit(',"msp_index":'),
  routed: lit(',"routed":true'),
  ioTrue: lit(',"io":true'),
  otConnId: lit(',"ot_conn_id":'),
  toConnId: lit(',"to_conn_id":'),
  otRpi: lit(',"ot_rpi":'),
  toRpi: lit(',"to_rpi":'),
  connSerial: lit(',"conn_serial":'),
  vendor: lit(',"vendor":'),
  deviceType: lit(',"device_type":'),
  productCode: lit(',"product_code":'),
  revision: lit(',"revision":"'),
  serial: lit(',"serial":'),
  productName: lit(',"product_name":'),
  state: lit(',"state":'),
  null: lit('null'),
  close: lit('}'),
};

function numOrNull(o: JsonOut, v: number): void {
  if (v < 0) o.lit(PJ.null);
  else o.num(v);
}

const HEX = '0123456789abcdef';

/** Bytes inside a JSON string: printable ASCII as is, anything else \u00XX
 *  (tag and product names are ASCII by the spec; the wire may disagree). */
function bytesBody(o: JsonOut, b: Buffer, off: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const c = b[off + i];
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) o.raw(String.fromCharCode(c));
    else o.raw(c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : `\\u00${HEX[c >> 4]}${HEX[c & 15]}`);
  }
}

function bytesStr(o: JsonOut, b: Buffer, off: number, n: number): void {
  o.raw('"');
  bytesBody(o, b, off, n);
  o.raw('"');
}

/** `"a.b"`: the symbolic segments of the request path joined by dots. */
function tagStr(o: JsonOut, p: EnipPdu): void {
  o.raw('"');
  for (let s = 0; s < p.tagN; s++) {
    if (s > 0) o.raw('.');
    bytesBody(o, p.buf!, p.tagOff[s], p.tagLen[s]);
  }
  o.raw('"');
}

export function pduWrite(o: JsonOut, p: EnipPdu): void {
  o.lit(PJ.command);
  numOrNull(o, p.command);
  o.lit(PJ.session);
  numOrNull(o, p.session);
  o.lit(PJ.status);
  numOrNull(o, p.status);
  o.lit(PJ.service);
  numOrNull(o, p.service);
  o.lit(p.resp ? PJ.respTrue : PJ.respFalse);
  o.lit(PJ.cls);
  numOrNull(o, p.cipClass);
  o.lit(PJ.instance);
  numOrNull(o, p.instance);
  o.lit(PJ.attribute);
  numOrNull(o, p.attribute);
  o.lit(PJ.tag);
  if (p.tagN === 0 || p.buf === null) o.lit(PJ.null);
  else tagStr(o, p);
  o.lit(PJ.generalStatus);
  numOrNull(o, p.generalStatus);
  o.lit(PJ.extStatus);
  numOrNull(o, p.extStatus);
  if (p.member >= 0) {
    o.lit(PJ.member);
    o.num(p.member);
  }
  if (p.io) o.lit(PJ.ioTrue);
  if (p.connId >= 0) {
    o.lit(PJ.connId);
    o.num(p.connId);
  }
  if (p.seq >= 0) {
    o.lit(PJ.seq);
    o.num(p.seq);
  }
  if (p.cipSeq >= 0) {
    o.lit(PJ.cipSeq);
    o.num(p.cipSeq);
  }
  if (p.mspIndex >= 0) {
    o.lit(PJ.msp);
    o.num(p.mspIndex);
  }
  if (p.routed) o.lit(PJ.routed);
  if (p.otConnId >= 0) {
    o.lit(PJ.otConnId);
    o.num(p.otConnId);
  }
  if (p.toConnId >= 0) {
    o.lit(PJ.toConnId);
    o.num(p.toConnId);
  }
  if (p.otRpi >= 0) {
    o.lit(PJ.otRpi);
    o.num(p.otRpi);
  }
  if (p.toRpi >= 0) {
    o.lit(PJ.toRpi);
    o.num(p.toRpi);
  }
  if (p.connSerial >= 0) {
    o.lit(PJ.connSerial);
    o.num(p.connSerial);
  }
  if (p.vendor >= 0) {
    o.lit(PJ.vendor);
    o.num(p.vendor);
    o.lit(PJ.deviceType);
    o.num(p.deviceType);
    o.lit(PJ.productCode);
    o.num(p.productCode);
    o.lit(PJ.revision);
    o.num(p.revMajor);
    o.raw('.');
    o.num(p.revMinor);
    o.raw('"');
    o.lit(PJ.serial);
    o.num(p.serial);
    o.lit(PJ.productName);
    if (p.nameOff < 0 || p.buf === null) o.lit(PJ.null);
    else bytesStr(o, p.buf, p.nameOff, p.nameLen);
    o.lit(PJ.state);
    numOrNull(o, p.state);
  }
  o.lit(PJ.close);
}

export function pduJson(p: EnipPdu): string {
  return jsonText(pduWrite, p);
}

export function flowWrite(o: JsonOut, st: EnipState): void {
  o.raw('{"commands":');
  st.commands.write(o);
  o.raw(',"services":');
  st.services.write(o);
  o.raw(',"requests":');
  o.num(st.requests);
  o.raw(',"responses":');
  o.num(st.responses);
  o.raw(',"errors":');
  o.num(st.errors);
  o.raw(',"io":');
  o.num(st.io);
  o.raw(',"session":');
  if (st.session === 0) o.raw('null');
  else o.num(st.session);
  o.raw('}');
}

export function flowJson(st: EnipState): string {
  return jsonText(flowWrite, st);
}
