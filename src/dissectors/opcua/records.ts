// The opcua members of the PDU and flow records, written as bytes (the hot
// path of --pdus); beside the parser the way Suricata keeps log.rs beside
// the parser.
import { lit, type JsonOut } from '../../output/json-out.js';
import { opcuaServiceName } from './opcua-services.js';
import { spanText, type OpcuaPdu, type OpcuaState } from './parser.js';

/** The PDU member's constant pieces, encoded once (JsonOut.lit). */
const PJ = {
  msg: lit('{"msg":"'),
  chunk: lit('","chunk":"'),
  size: lit('","size":'),
  channel: lit(',"channel":'),
  token: lit(',"token":'),
  seq: lit(',"seq":'),
  req: lit(',"req":'),
  service: lit(',"service":'),
  serviceName: lit(',"service_name":'),
  policy: lit(',"policy":'),
  endpoint: lit(',"endpoint":'),
  status: lit(',"status":'),
  chunks: lit(',"chunks":'),
  appUri: lit(',"application_uri":'),
  productUri: lit(',"product_uri":'),
  appName: lit(',"application_name":'),
  close: lit('}'),
  encTrue: lit(',"encrypted":true'),
  encFalse: lit(',"encrypted":false'),
};

export function writeOpcuaPdu(o: JsonOut, p: OpcuaPdu): void {
  o.lit(PJ.msg);
  o.raw(p.msg);
  o.lit(PJ.chunk);
  o.raw(p.chunk);
  o.lit(PJ.size);
  o.num(p.size);
  if (p.channel >= 0) {
    o.lit(PJ.channel);
    o.num(p.channel);
  }
  if (p.token >= 0) {
    o.lit(PJ.token);
    o.num(p.token);
  }
  if (p.seq >= 0) {
    o.lit(PJ.seq);
    o.num(p.seq);
  }
  if (p.req >= 0) {
    o.lit(PJ.req);
    o.num(p.req);
  }
  if (p.service >= 0) {
    o.lit(PJ.service);
    o.num(p.service);
  }
  if (p.serviceName !== undefined) {
    o.lit(PJ.serviceName);
    o.str(p.serviceName);
  }
  if (p.policy !== undefined) {
    o.lit(PJ.policy);
    o.str(p.policy);
  }
  if (p.endpoint !== undefined) {
    o.lit(PJ.endpoint);
    o.str(p.endpoint);
  }
  if (p.status >= 0) {
    o.lit(PJ.status);
    o.num(p.status);
  }
  if (p.encrypted !== undefined) o.lit(p.encrypted ? PJ.encTrue : PJ.encFalse);
  if (p.chunks > 0) {
    o.lit(PJ.chunks);
    o.num(p.chunks);
  }
  const ib = p.idBuf;
  if (ib !== null) {
    if (p.appUriLen >= 0) {
      o.lit(PJ.appUri);
      o.str(spanText(ib, p.appUriPos, p.appUriLen)!);
    }
    if (p.productUriLen >= 0) {
      o.lit(PJ.productUri);
      o.str(spanText(ib, p.productUriPos, p.productUriLen)!);
    }
    if (p.appNameLen >= 0) {
      o.lit(PJ.appName);
      o.str(spanText(ib, p.appNamePos, p.appNameLen)!);
    }
  }
  o.lit(PJ.close);
}

export function writeOpcuaFlow(o: JsonOut, st: OpcuaState): void {
  o.raw('{');
  if (st.policy !== undefined) {
    o.raw('"policy":');
    o.str(st.policy);
    o.raw(',');
  }
  if (st.endpoint !== undefined) {
    o.raw('"endpoint":');
    o.str(st.endpoint);
    o.raw(',');
  }
  o.raw('"services":{');
  let first = true;
  for (const [id, n] of st.services) {
    if (!first) o.raw(',');
    const name = opcuaServiceName(id);
    if (name !== undefined) o.str(name);
    else {
      o.raw('"unknown-');
      o.num(id);
      o.raw('"');
    }
    o.raw(':');
    o.num(n);
    first = false;
  }
  o.raw('},"errors":{');
  first = true;
  for (const [code, n] of st.errors) {
    o.raw(first ? '"0x' : ',"0x');
    o.raw(code.toString(16).toUpperCase().padStart(8, '0'));
    o.raw('":');
    o.num(n);
    first = false;
  }
  o.raw('}}');
}
