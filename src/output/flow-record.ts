// Flow record serializer: a fixed schema written as bytes (JsonOut), no
// JSON.stringify. Field names are the public contract (README "Output").
import { flowCommunityDigest } from '../flows/flow-community-id.js';
import { JsonOut, jsonText, lit } from './json-out.js';
import type { EndReason, Flow } from '../flows/flow.js';
import { ipv4Text, ipv6Text } from './ip-text.js';

let lastTs = -1;
let lastText = '';

/** Epoch seconds with exactly six decimals. Consecutive records often share
 *  a timestamp (several PDUs in one packet), so the last one is cached;
 *  integer arithmetic avoids toFixed's general float formatting. */
export function tsText(ts: number): string {
  if (ts === lastTs) return lastText;
  let sec = Math.floor(ts);
  let usec = Math.round((ts - sec) * 1e6);
  if (usec >= 1e6) {
    sec += 1;
    usec -= 1e6;
  }
  lastTs = ts;
  lastText = `${sec}.${String(usec + 1e6).slice(1)}`;
  return lastText;
}

function ipA(f: Flow): string {
  return f.ipVersion === 4 ? ipv4Text(f.a0) : ipv6Text(f.a0, f.a1, f.a2, f.a3);
}
function ipB(f: Flow): string {
  return f.ipVersion === 4 ? ipv4Text(f.b0) : ipv6Text(f.b0, f.b1, f.b2, f.b3);
}

export function clientIp(f: Flow): string {
  return f.clientIsA ? ipA(f) : ipB(f);
}
export function serverIp(f: Flow): string {
  return f.clientIsA ? ipB(f) : ipA(f);
}
export function clientPort(f: Flow): number {
  return f.clientIsA ? f.aPort : f.bPort;
}
export function serverPort(f: Flow): number {
  return f.clientIsA ? f.bPort : f.aPort;
}

/** `"community_id":...,"proto":...,"vlan":...,"client":{...},"server":{...}`
 *  shared by flow, PDU and alert records. Cached on the flow, for flows that
 *  emit many records (PDUs); a flow's final record writes it without
 *  caching (writeHead). */
export function flowHeadJson(f: Flow): string {
  if (f.endpointsJson === null) f.endpointsJson = jsonText(writeHeadFields, f);
  return f.endpointsJson;
}

/** The head of a flow's final record, written as bytes: a string stored on
 *  a long-lived (old-generation) flow object survives young-GC and is
 *  promoted, which made GC the main cost of flow-heavy traffic; building it
 *  as a string only to encode it was the next cost. */
/** The record's constant pieces, encoded once (JsonOut.lit). */
const K = {
  COMMUNITY_ID: lit('"community_id":"1:'),
  NULL: lit('null'),
  INNER_VLAN: lit(',"inner_vlan":'),
  CLIENT_IP: lit(',"client":{"ip":"'),
  PORT: lit('","port":'),
  SERVER_IP: lit('},"server":{"ip":"'),
  CLOSE: lit('}'),
  FLOW_TS: lit('{"type":"flow","ts":'),
  END_TS: lit(',"end_ts":'),
  COMMA: lit(','),
  APP_NULL: lit(',"app":null'),
  PKTS_C2S: lit(',"pkts":{"c2s":'),
  S2C: lit(',"s2c":'),
  BYTES_C2S: lit('},"bytes":{"c2s":'),
  PAYLOAD_C2S: lit('},"payload_bytes":{"c2s":'),
  STATE: lit('},"state":"'),
  QUOTE: lit('"'),
  TRUNCATED: lit(',"truncated_pkts":'),
  FRAGMENTS: lit(',"fragments":'),
  INTERIM: lit(',"interim":'),
  END_LINE: lit('}\n'),
  PROTO_TCP: lit('","proto":"tcp","vlan":'),
  PROTO_UDP: lit('","proto":"udp","vlan":'),
  HANDSHAKE_TRUE: lit('","handshake":true,"end":"'),
  HANDSHAKE_FALSE: lit('","handshake":false,"end":"'),
};

function writeHead(o: JsonOut, f: Flow): void {
  if (f.endpointsJson !== null) o.ascii(f.endpointsJson);
  else writeHeadFields(o, f);
}

function writeHeadFields(o: JsonOut, f: Flow): void {
  o.lit(K.COMMUNITY_ID);
  o.base64(flowCommunityDigest(f), 0, 20);
  o.lit(f.proto === 6 ? K.PROTO_TCP : K.PROTO_UDP);
  if (f.vlan < 0) o.lit(K.NULL);
  else o.num(f.vlan);
  if (f.innerVlan >= 0) {
    o.lit(K.INNER_VLAN);
    o.num(f.innerVlan);
  }
  o.lit(K.CLIENT_IP);
  writeIp(o, f, f.clientIsA);
  o.lit(K.PORT);
  o.num(clientPort(f));
  o.lit(K.SERVER_IP);
  writeIp(o, f, !f.clientIsA);
  o.lit(K.PORT);
  o.num(serverPort(f));
  o.lit(K.CLOSE);
}

function writeIp(o: JsonOut, f: Flow, a: boolean): void {
  if (f.ipVersion === 4) o.ipv4(a ? f.a0 : f.b0);
  else o.raw(a ? ipA(f) : ipB(f));
}

/** The flow record (one NDJSON line), written into `o`. */
export function writeFlowRecord(o: JsonOut, f: Flow, end: EndReason): void {
  o.lit(K.FLOW_TS);
  o.ts(f.firstTs);
  o.lit(K.END_TS);
  o.ts(f.lastTs);
  o.lit(K.COMMA);
  if (end === 'active') o.ascii(flowHeadJson(f));
  else writeHead(o, f);
  if (f.app === null) o.lit(K.APP_NULL);
  else f.app.flowWrite(o);
  o.lit(K.PKTS_C2S);
  o.num(f.pktsC2S);
  o.lit(K.S2C);
  o.num(f.pktsS2C);
  o.lit(K.BYTES_C2S);
  o.num(f.bytesC2S);
  o.lit(K.S2C);
  o.num(f.bytesS2C);
  o.lit(K.PAYLOAD_C2S);
  o.num(f.payC2S);
  o.lit(K.S2C);
  o.num(f.payS2C);
  o.lit(K.STATE);
  o.raw(f.stateName());
  o.lit(f.handshake ? K.HANDSHAKE_TRUE : K.HANDSHAKE_FALSE);
  o.raw(end);
  o.lit(K.QUOTE);
  if (f.truncatedPkts > 0) {
    o.lit(K.TRUNCATED);
    o.num(f.truncatedPkts);
  }
  if (f.fragments > 0) {
    o.lit(K.FRAGMENTS);
    o.num(f.fragments);
  }
  if (f.interimRecords > 0 || end === 'active') {
    o.lit(K.INTERIM);
    o.num(f.interimRecords + (end === 'active' ? 1 : 0));
  }
  o.lit(K.END_LINE);
}

const text = new JsonOut(null);

export function flowRecord(f: Flow, end: EndReason): string {
  text.begin();
  writeFlowRecord(text, f, end);
  return text.text();
}
