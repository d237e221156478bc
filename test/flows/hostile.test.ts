// Hostile input through the whole engine: the corpus's fuzzed, malformed and
// flooding captures, and random bytes on every ICS port. No crash, no
// internal error (runEngine rethrows one), bounded state, and the anomalies
// a careful sensor should report.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TcpSession } from '../../tools/pcapgen/tcp-session.js';
import { toPcap } from '../../tools/pcapgen/capture.js';
import { runEngine } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

withShared(() => {
  describe('hostile captures from the corpus', () => {
    const files = [
      'zeek/Traces/modbus/fuzz-72.pcap',
      'zeek/Traces/modbus/fuzz-1011.pcap',
      'zeek/Traces/dnp3/dnp3-flowbuffer-overflow-assert.pcap',
      'automayt-ICS-pcap/DNP3/DNP3-Malformed/DNP3-Malformed.pcap',
      'EmreEkin-ICS-Pcaps/MODBUS/crash.pcap',
      'suricata-verify/tests/dnp3/dnp3-flood/input.pcap',
      'suricata-verify/tests/dnp3/dnp3-too-long-reassembly-request/input.pcap',
      'suricata-verify/tests/dnp3/dnp3-too-long-reassembly-response/input.pcap',
      'suricata-verify/tests/dnp3/dnp3-max-points/test.pcap',
      'icsnpp-opcua-binary/tests/traces/pending_overflow.pcap',
    ];
    for (const f of files) {
      it(`${f}: no crash, no internal error`, async () => {
        const r = await runEngine([resolve(SHARED_PCAPS, f)]);
        expect(r.errors).toEqual([]);
        expect(r.engine.stats.internalErrors).toBe(0);
        expect(r.flows.length).toBeGreaterThan(0);
      });
    }

    it('DNP3 flood: every one of the 33 unanswered requests is decoded (Suricata logs 33)', async () => {
      const r = await runEngine([resolve(SHARED_PCAPS, 'suricata-verify/tests/dnp3/dnp3-flood/input.pcap')]);
      expect(r.pdus.filter((p) => p.app === 'dnp3' && p.dir === 'c2s' && p.dnp3.fc !== null && p.dnp3.fc < 129)).toHaveLength(33);
    });

    for (const dir of ['request', 'response']) {
      it(`DNP3 over-long reassembly (${dir}): bounded, reported as fragment_too_long on a DNP3 flow`, async () => {
        const r = await runEngine([resolve(SHARED_PCAPS, `suricata-verify/tests/dnp3/dnp3-too-long-reassembly-${dir}/input.pcap`)]);
        const f = r.flows.find((x) => x.app === 'dnp3');
        expect(f).toBeDefined();
        expect(f!.anomalies.fragment_too_long).toBe(1);
        expect(f!.dnp3.dropped_fragments).toBe(1);
      });
    }
  });
});

describe('random bytes on every ICS port', () => {
  it('never crash the engine and are never called an ICS protocol', async () => {
    let seed = 0x5eed;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    const packets = [];
    let port = 40000;
    for (const sport of [502, 20000, 2404, 4840]) {
      for (let n = 0; n < 25; n++) {
        const s = new TcpSession({ client: '10.9.0.1', server: '10.9.0.2', cport: port++, sport, start: 1700000000 + n });
        s.handshake();
        for (let k = 0; k < 8; k++) {
          const len = 1 + (rnd() % 600);
          const b = Buffer.alloc(len);
          for (let i = 0; i < len; i++) b[i] = rnd() & 0xff;
          s.send(k % 2 === 0 ? 'c2s' : 's2c', b);
        }
        packets.push(...s.frames());
      }
    }
    packets.sort((a, b) => a.ts - b.ts);
    const dir = mkdtempSync(join(tmpdir(), 'otw-rand-'));
    const path = join(dir, 'random.pcap');
    writeFileSync(path, toPcap(packets));
    const r = await runEngine([path]);
    expect(r.engine.stats.internalErrors).toBe(0);
    expect(r.flows).toHaveLength(100);
    expect(r.flows.filter((f) => f.app !== null)).toEqual([]);
    expect(r.pdus).toEqual([]);
  });
});
