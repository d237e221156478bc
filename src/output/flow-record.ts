// Flow record serializer: a fixed schema written as one template string, no
// JSON.stringify. Field names are the public contract (README "Output").
import { flowCommunityId as communityIdOf } from '../flows/flow-community-id.js';
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

export function flowCommunityId(f: Flow): string {
  return communityIdOf(f);
}

function headJson(f: Flow): string {
  const vlan = f.vlan < 0 ? 'null' : String(f.vlan);
  const inner = f.innerVlan < 0 ? '' : `,"inner_vlan":${f.innerVlan}`;
  return (
    `"community_id":"${flowCommunityId(f)}","proto":"${f.proto === 6 ? 'tcp' : 'udp'}","vlan":${vlan}${inner},` +
    `"client":{"ip":"${clientIp(f)}","port":${clientPort(f)}},"server":{"ip":"${serverIp(f)}","port":${serverPort(f)}}`
  );
}

/** `"community_id":...,"proto":...,"vlan":...,"client":{...},"server":{...}`
 *  shared by flow, PDU and alert records. Cached on the flow, for flows that
 *  emit many records (PDUs); see flowEndHeadJson for the last record. */
export function flowHeadJson(f: Flow): string {
  if (f.endpointsJson === null) f.endpointsJson = headJson(f);
  return f.endpointsJson;
}

/** The same text for a flow's final record, without caching it: a string
 *  stored on a long-lived (old-generation) flow object survives young-GC and
 *  is promoted, which made GC the main cost of flow-heavy traffic. */
function flowEndHeadJson(f: Flow): string {
  return f.endpointsJson ?? headJson(f);
}

export function flowRecord(f: Flow, end: EndReason): string {
  const extra =
    (f.truncatedPkts > 0 ? `,"truncated_pkts":${f.truncatedPkts}` : '') +
    (f.fragments > 0 ? `,"fragments":${f.fragments}` : '') +
    (f.interimRecords > 0 || end === 'active' ? `,"interim":${f.interimRecords + (end === 'active' ? 1 : 0)}` : '');
  const app = f.app === null ? ',"app":null' : f.app.flowJson();
  return (
    `{"type":"flow","ts":${tsText(f.firstTs)},"end_ts":${tsText(f.lastTs)},${end === 'active' ? flowHeadJson(f) : flowEndHeadJson(f)}${app},` +
    `"pkts":{"c2s":${f.pktsC2S},"s2c":${f.pktsS2C}},"bytes":{"c2s":${f.bytesC2S},"s2c":${f.bytesS2C}},` +
    `"payload_bytes":{"c2s":${f.payC2S},"s2c":${f.payS2C}},"state":"${f.stateName()}",` +
    `"handshake":${f.handshake},"end":"${end}"${extra}}\n`
  );
}
