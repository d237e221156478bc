// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// otwatch against CISA's ICSNPP OPC UA binary analyzer (its btest baselines
// in ../shared/pcaps/icsnpp-opcua-binary): per connection, the message types
// and the service names ICSNPP logged all appear in otwatch's PDU records
// (as multisets: ICSNPP logs request/response pairs when the response
// comes). Covers a normal session, captures with data gaps (with and without
// the TCP handshake), no handshake, and a non-standard port.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

const CASES: Record<string, string> = {
  'analyzer.basic': 'open62541_client-server_mainloop.pcap',
  'analyzer.data-gap': 'opcua_with-gap.pcap',
  'analyzer.data-gap_with-handshake': 'opcua_with-gap_with-handshake.pcap',
  'analyzer.no-handshake': 'open62541_client-server_mainloop-no-handshake.pcap',
  'analyzer.non-standard-port': 'open62541_client-server_mainloop-not-localhost-non-standard-port.pcap',
};
const MSG_TYPES = new Set(['HEL', 'ACK', 'ERR', 'RHE', 'OPN', 'MSG', 'CLO']);

/** Elements of `needle` not covered by `hay`, counted as multisets. */
function notContained(needle: string[], hay: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of hay) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of needle) {
    const n = left.get(x) ?? 0;
    if (n === 0) out.push(x);
    else left.set(x, n - 1);
  }
  return out;
}

withShared(() => {
  const root = resolve(SHARED_PCAPS, 'icsnpp-opcua-binary/tests');
  describe('OPC UA: message types and services against ICSNPP baselines', () => {
    for (const [test, pcap] of Object.entries(CASES)) {
      it(`${test} (${pcap})`, async () => {
        // The baseline has no header (btest strips it): columns are ts, uid,
        // orig_h, orig_p, resp_h, resp_p, msg_type, ... with service names
        // (…Request / …Response) further along each row.
        const rows = readFileSync(resolve(root, 'baseline', test, 'opcua_binary.log'), 'utf8')
          .split('\n')
          .filter((l) => l !== '' && !l.startsWith('#'))
          .map((l) => l.split('\t'));
        const icsnpp = new Map<string, { msgs: string[]; services: string[] }>();
        for (const c of rows) {
          const conn = `${c[2]}:${c[3]}>${c[4]}:${c[5]}`;
          const e = icsnpp.get(conn) ?? { msgs: [], services: [] };
          if (MSG_TYPES.has(c[6])) e.msgs.push(c[6]);
          for (const t of c.slice(7)) if (/^[A-Z][A-Za-z]+(Request|Response)$/.test(t)) e.services.push(t);
          icsnpp.set(conn, e);
        }
        const r = await runEngine([resolve(root, 'traces', pcap)], { pdus: true });
        const ours = new Map<string, { msgs: string[]; services: string[] }>();
        for (const p of r.pdus as Rec[]) {
          if (p.app !== 'opcua') continue;
          const conn = `${p.client.ip}:${p.client.port}>${p.server.ip}:${p.server.port}`;
          const e = ours.get(conn) ?? { msgs: [], services: [] };
          e.msgs.push(p.opcua.msg);
          if (p.opcua.service_name !== undefined && p.opcua.chunk !== 'C') e.services.push(p.opcua.service_name);
          ours.set(conn, e);
        }
        expect(icsnpp.size).toBeGreaterThan(0);
        for (const [conn, z] of icsnpp) {
          const o = ours.get(conn);
          expect(o, `${test}: connection ${conn} logged by ICSNPP`).toBeDefined();
          // ICSNPP logs one row per request/response pair when the response
          // arrives, so pipelined requests (Publish) are out of wire order:
          // compare as multisets.
          expect(notContained(z.msgs, o!.msgs), `${test} ${conn}: message types ICSNPP logged`).toEqual([]);
          expect(notContained(z.services, o!.services), `${test} ${conn}: services ICSNPP logged`).toEqual([]);
        }
        const total = [...icsnpp.values()].reduce((n, e) => n + e.services.length, 0);
        console.log(`[icsnpp-opcua] ${test}: ${icsnpp.size} connections, ${total} services logged by ICSNPP, all found`);
      });
    }
  });
});
