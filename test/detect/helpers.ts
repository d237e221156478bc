// Building small captures for detection tests and running them through an
// Engine with a Detector attached (in-process), or through the built CLI.
import { expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCapture } from '../../src/capture/file-source.js';
import { AlertLog } from '../../src/detect/alerts.js';
import { Baseline, fromPlain, toPlain } from '../../src/detect/baseline.js';
import { Detector } from '../../src/detect/detector.js';
import type { Policy } from '../../src/detect/policy.js';
import { DEFAULT_SCAN, type ScanOptions } from '../../src/detect/scan.js';
import { DISSECTORS } from '../../src/dissectors/index.js';
import type { ProtocolModule } from '../../src/dissectors/module.js';
import { Engine } from '../../src/engine.js';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flows/flow-table.js';
import { Clock, toPcap, type Packet } from '../../tools/pcapgen/capture.js';
import { mbReadHoldingReq, mbReadHoldingResp, modbusAdu } from '../../tools/pcapgen/ics.js';
import { TcpSession, UdpExchange } from '../../tools/pcapgen/tcp-session.js';
import { MemorySink, type Rec } from '../helpers/run.js';

export const T0 = 1_700_000_000;

export function tmpDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `otwatch-detect-${tag}-`));
}

export function writePcap(dir: string, name: string, packets: Packet[]): string {
  const p = join(dir, name);
  writeFileSync(p, toPcap(packets));
  return p;
}

/** A shared clock: conversations made on it interleave in time order when
 *  emitted one after the other. */
export function clock(start = T0): Clock {
  return new Clock(start, 1_000_000);
}

export interface Conv {
  client: string;
  server: string;
  cport: number;
  sport: number;
  vlan?: number;
}

export function tcp(c: Clock, v: Conv): TcpSession {
  return new TcpSession({
    client: v.client,
    server: v.server,
    cport: v.cport,
    sport: v.sport,
    clock: c,
    vlans: v.vlan === undefined ? undefined : [{ id: v.vlan }],
  });
}

export function udp(c: Clock, v: Conv): UdpExchange {
  return new UdpExchange({ client: v.client, server: v.server, cport: v.cport, sport: v.sport, clock: c });
}

/** Handshake, `n` FC 3 read transactions, orderly close. */
export function modbusReads(c: Clock, v: Conv, n = 3, tid0 = 1): Packet[] {
  const s = tcp(c, v).handshake();
  for (let i = 0; i < n; i++) {
    s.send('c2s', modbusAdu(tid0 + i, 1, mbReadHoldingReq(i * 10, 2)));
    s.send('s2c', modbusAdu(tid0 + i, 1, mbReadHoldingResp([i, i + 1])));
  }
  return s.close('c2s').frames();
}

/** Handshake then the given request/response ADU pairs, orderly close. */
export function modbusExchange(c: Clock, v: Conv, pairs: [Buffer, Buffer][]): Packet[] {
  const s = tcp(c, v).handshake();
  for (const [req, resp] of pairs) s.send('c2s', req).send('s2c', resp);
  return s.close('c2s').frames();
}

/** A SYN answered by RST (a closed port). */
export function refused(c: Clock, v: Conv): Packet[] {
  return tcp(c, v).send('c2s', Buffer.alloc(0), { flags: 'S', noAdvance: true, seqOffset: -1 }).rst('s2c', 'RA').frames();
}

/** A SYN nobody answers. */
export function unanswered(c: Clock, v: Conv): Packet[] {
  return tcp(c, v).send('c2s', Buffer.alloc(0), { flags: 'S', noAdvance: true, seqOffset: -1 }).frames();
}

export interface DetectRun {
  alerts: Rec[];
  summary: Rec | undefined;
  records: Rec[];
  detector: Detector;
  engine: Engine;
}

export interface DetectOpts {
  baseline?: Baseline | null;
  learnFor?: number | null;
  policy?: Policy | null;
  scan?: Partial<ScanOptions>;
  dissectors?: readonly ProtocolModule[];
}

/** A deep copy through the file form: detection adds its own records to the
 *  baseline it is given, so every run gets a fresh one. */
export function cloneBaseline(b: Baseline): Baseline {
  return fromPlain(JSON.parse(JSON.stringify(toPlain(b))), 'clone');
}

/** Runs captures through an Engine with a Detector (on a copy of o.baseline). */
export async function runDetect(paths: string[], o: DetectOpts = {}): Promise<DetectRun> {
  const sink = new MemorySink();
  const dissectors = o.dissectors ?? DISSECTORS;
  const engine = new Engine({ flows: DEFAULT_FLOW_OPTIONS, dissectors, pdus: false, reassemblyBytes: 64 << 20 }, sink);
  const detector = new Detector(
    {
      baseline: o.baseline ? (o.learnFor === Infinity ? o.baseline : cloneBaseline(o.baseline)) : null,
      learnFor: o.learnFor ?? null,
      policy: o.policy ?? null,
      scan: { ...DEFAULT_SCAN, ...(o.scan ?? {}) },
      dissectors,
    },
    new AlertLog(sink),
  );
  engine.observer = detector;
  for (const p of paths) {
    try {
      await readCapture(p, engine.onPacket);
    } catch {
      // A damaged capture: what was read before the damage still counts, as in `otwatch read`.
    }
  }
  engine.finish('eof');
  if (engine.firstInternalError) throw engine.firstInternalError;
  const records = sink.records;
  return {
    alerts: records.filter((r) => r.type === 'alert'),
    summary: records.find((r) => r.type === 'alert_summary'),
    records,
    detector,
    engine,
  };
}

/** Learns a baseline from captures (as `otwatch baseline learn` does). */
export async function learn(paths: string[], o: DetectOpts = {}): Promise<Baseline> {
  const r = await runDetect(paths, { ...o, baseline: o.baseline ?? new Baseline(), learnFor: Infinity });
  expect(r.alerts).toEqual([]);
  return r.detector.baseline;
}

/** Short view of alerts for assertions: kind, severity and the endpoints. */
export function brief(a: Rec): string {
  const ep = (e: Rec | undefined) => (e === undefined ? '-' : `${e.ip}${e.port === undefined ? '' : `:${e.port}`}`);
  return `${a.kind}/${a.severity} ${ep(a.client)} -> ${ep(a.server)}${a.fc === undefined ? '' : ` fc ${a.fc} ${a.function_class}`}`;
}
