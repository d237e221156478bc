// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// otwatch against the ICSNPP ENIP/CIP Zeek plugin's btest baselines
// (icsnpp-enip/tests/baseline in the shared corpus): per flow direction, the
// logs' rows and otwatch's PDU records must be the same sequence:
//   enip.log          command and session handle, one per encapsulation message
//   cip.log           CIP service, request/response, and for requests class
//                     and instance, for responses the general status
//                     (ICSNPP logs a Multiple Service Packet container row
//                     before its services; otwatch reports the services only)
//   cip_io.log        connection id and sequence number of each I/O datagram
//   cip_identity.log  vendor, device type, product code, revision, serial,
//                     product name and state of each ListIdentity reply
// The baselines cut timestamps and uids, so rows are matched by endpoints.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

const BASE = 'icsnpp-enip/tests/baseline';
const TESTS: [test: string, trace: string, logs: string[]][] = [
  ['analyzer.basic', 'enip_cip_example.pcap', ['enip', 'cip', 'cip_io', 'cip_identity']],
  ['analyzer.multiple_service_request', 'multiple_service_packet_cip.pcapng', ['enip', 'cip']],
  ['analyzer.set_attr_single_service', 'set_attribute_single_service_cip.pcapng', ['enip', 'cip']],
];

const hexNum = (s: string) => parseInt(s, 16);

/** Rows of one baseline log (no header: the btest cut it), as columns. */
function logRows(test: string, log: string): string[][] {
  return readFileSync(resolve(SHARED_PCAPS, BASE, test, `${log}.log`), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t'));
}

type Seqs = Map<string, string[]>;

function push(m: Seqs, k: string, v: string): void {
  const l = m.get(k) ?? [];
  l.push(v);
  m.set(k, l);
}

/** The baseline's rows; columns after uid: orig/resp endpoints, is_orig,
 *  src_h, src_p, dst_h, dst_p, then the log's own fields. Baselines cut by
 *  `zeek-cut -n packet_correlation_id` keep ts and uid (values XXXX). */
function zeekSeqs(test: string, log: string): Seqs {
  const m: Seqs = new Map();
  for (const c of logRows(test, log)) {
    // multiple_service_request and set_attr drop ts/uid/orig/resp columns: find is_orig (T/F) followed by src_h.
    const i = c.findIndex((x, j) => (x === 'T' || x === 'F') && /^[0-9.]+$/.test(c[j + 1] ?? ''));
    const dir = `${c[i + 1]}:${c[i + 2]}>${c[i + 3]}:${c[i + 4]}`;
    const f = c.slice(i + 5);
    if (log === 'enip') push(m, dir, `${hexNum(f[0])}/${hexNum(f[3])}`);
    else if (log === 'cip') {
      // cip_sequence_count, direction, service, name, status, status name, ext status, ext name, class, class name, instance, attribute
      const svc = hexNum(f[2]);
      if (svc === 0x0a) continue;
      push(m, dir, f[1] === 'request' ? `${svc}/req/${hexNum(f[8])}/${hexNum(f[10])}` : `${svc}/resp/${hexNum(f[4])}`);
    } else if (log === 'cip_io') push(m, dir, `${hexNum(f[0])}/${Number(f[1])}`);
    else {
      // encapsulation version, socket address, socket port, vendor id, vendor name, device type, name,
      // product code, revision, device status, serial, product name, state
      push(m, dir, [f[3], f[5], f[7], f[8], hexNum(f[10]), f[11], hexNum(f[12])].join('/'));
    }
  }
  return m;
}

function oursSeqs(pdus: Rec[], log: string): Seqs {
  const m: Seqs = new Map();
  for (const p of pdus) {
    if (p.app !== 'enip') continue;
    const e = p.enip;
    const a = `${p.client.ip}:${p.client.port}`;
    const b = `${p.server.ip}:${p.server.port}`;
    const dir = p.dir === 'c2s' ? `${a}>${b}` : `${b}>${a}`;
    if (log === 'enip') {
      if (!e.io && (e.msp_index === undefined || e.msp_index === 0)) push(m, dir, `${e.command}/${e.session}`);
    } else if (log === 'cip') {
      if (e.service !== null) push(m, dir, e.resp ? `${e.service}/resp/${e.general_status}` : `${e.service}/req/${e.class}/${e.instance}`);
    } else if (log === 'cip_io') {
      if (e.io) push(m, dir, `${e.conn_id}/${e.seq}`);
    } else if (e.vendor !== undefined) {
      push(m, dir, [e.vendor, e.device_type, e.product_code, e.revision, e.serial, e.product_name, e.state].join('/'));
    }
  }
  return m;
}

withShared(() => {
  describe('enip: otwatch vs the ICSNPP ENIP/CIP Zeek baselines', () => {
    for (const [test, trace, logs] of TESTS) {
      it(`${test} (${trace}): ${logs.join(', ')}`, async () => {
        const r = await runEngine([resolve(SHARED_PCAPS, 'icsnpp-enip/tests/traces', trace)], { pdus: true });
        for (const log of logs) {
          const z = zeekSeqs(test, log);
          const o = oursSeqs(r.pdus, log);
          let rows = 0;
          for (const l of z.values()) rows += l.length;
          expect(rows, `${test} ${log}.log has rows`).toBeGreaterThan(0);
          expect(Object.fromEntries(o), `${test} ${log}.log`).toEqual(Object.fromEntries(z));
        }
      });
    }
  });
});
