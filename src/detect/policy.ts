// Zones and conduits (IEC 62443-3-2): a JSON policy names zones by CIDR and
// lists the conduits allowed between them. A connection initiated from one
// zone into another that no conduit allows is a `zone_violation`; so is a
// conduit used with an application or function class it does not allow.
// Traffic inside one zone is not checked. The format is documented in
// docs/detection.md; docs/policy.example.json is an example.
import { readFileSync } from 'node:fs';
import { parseIp } from '../flows/community-id.js';
import type { Flow } from '../flows/flow.js';
import { APP_FACTS, type AppFact } from './baseline.js';
import { FUNCTION_CLASSES, type FunctionClass } from './function-class.js';

export class PolicyError extends Error {}

export interface Zone {
  name: string;
  /** An OT zone: connections into it are called out and rated high. */
  ot: boolean;
}

interface Net {
  zone: Zone;
  v6: boolean;
  w: [number, number, number, number];
  /** Mask words. */
  m: [number, number, number, number];
  bits: number;
}

export interface Conduit {
  /** Position in the file, from 1, for messages. */
  index: number;
  name: string | null;
  /** null: any zone ("*"). */
  from: string | null;
  to: string | null;
  proto: 'tcp' | 'udp' | null;
  /** Inclusive [lo, hi] server port ranges; null: any port. */
  ports: [number, number][] | null;
  apps: AppFact[] | null;
  /** Bitmask of allowed function classes; -1: any. */
  functions: number;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_ZONES = 256;
const MAX_NETS = 4096;
const MAX_CONDUITS = 4096;

function maskWords(bits: number, v6: boolean): [number, number, number, number] {
  const m: [number, number, number, number] = [0, 0, 0, 0];
  const total = v6 ? 128 : 32;
  for (let i = 0; i < 4; i++) {
    const b = Math.min(32, Math.max(0, Math.min(bits, total) - i * 32));
    m[i] = b === 0 ? 0 : b === 32 ? 0xffffffff : (0xffffffff << (32 - b)) >>> 0;
  }
  return m;
}

function wordsOf(bytes: Uint8Array): [number, number, number, number] {
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < bytes.length; i += 4)
    w[i >> 2] = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
  return w;
}

export class Policy {
  readonly zones: Zone[] = [];
  /** Longest prefix first. */
  readonly nets: Net[] = [];
  readonly conduits: Conduit[] = [];
  /** Zone of addresses in no CIDR; null: such traffic is not checked. */
  defaultZone: Zone | null = null;

  zone(name: string): Zone | undefined {
    return this.zones.find((z) => z.name === name);
  }

  /** Zone of an address given as flow words (IPv4: w0 only). */
  zoneOf(v6: boolean, w0: number, w1: number, w2: number, w3: number): Zone | null {
    const nets = this.nets;
    for (let i = 0; i < nets.length; i++) {
      const n = nets[i];
      if (n.v6 !== v6) continue;
      if (((w0 ^ n.w[0]) & n.m[0]) !== 0) continue;
      if (v6 && (((w1 ^ n.w[1]) & n.m[1]) !== 0 || ((w2 ^ n.w[2]) & n.m[2]) !== 0 || ((w3 ^ n.w[3]) & n.m[3]) !== 0)) continue;
      return n.zone;
    }
    return this.defaultZone;
  }

  clientZone(f: Flow): Zone | null {
    return f.clientIsA ? this.zoneOf(f.ipVersion === 6, f.a0, f.a1, f.a2, f.a3) : this.zoneOf(f.ipVersion === 6, f.b0, f.b1, f.b2, f.b3);
  }

  serverZone(f: Flow): Zone | null {
    return f.clientIsA ? this.zoneOf(f.ipVersion === 6, f.b0, f.b1, f.b2, f.b3) : this.zoneOf(f.ipVersion === 6, f.a0, f.a1, f.a2, f.a3);
  }

  /** Conduits from → to that allow this transport and server port. */
  matching(from: Zone, to: Zone, proto: 'tcp' | 'udp', port: number): Conduit[] {
    const out: Conduit[] = [];
    for (const c of this.conduits) {
      if (c.from !== null && c.from !== from.name) continue;
      if (c.to !== null && c.to !== to.name) continue;
      if (c.proto !== null && c.proto !== proto) continue;
      if (c.ports !== null && !c.ports.some(([lo, hi]) => port >= lo && port <= hi)) continue;
      out.push(c);
    }
    return out;
  }
}

/** Multicast and limited broadcast: datagrams to them are not connections. */
export function isGroupAddress(f: Flow): boolean {
  const w0 = f.clientIsA ? f.b0 : f.a0;
  if (f.ipVersion === 4) return w0 >>> 28 === 14 || w0 >>> 0 === 0xffffffff;
  return w0 >>> 24 === 0xff;
}

export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PolicyError(`cannot read policy ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PolicyError(`policy ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parsePolicy(doc, path);
}

export function parsePolicy(doc: unknown, where = 'policy'): Policy {
  const bad = (what: string): never => {
    throw new PolicyError(`${where}: ${what}`);
  };
  const obj = (v: unknown, what: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!keys.includes(k) && k !== 'comment') bad(`${what} has unknown field "${k}" (known: ${keys.join(', ')}, comment)`);
    return o;
  };
  const list = (v: unknown, what: string, cap: number): unknown[] =>
    Array.isArray(v) ? (v.length <= cap ? v : bad(`${what} has more than ${cap} entries`)) : bad(`${what} must be a list`);
  const name = (v: unknown, what: string): string =>
    typeof v === 'string' && NAME_RE.test(v) ? v : bad(`${what} must be a name of 1-64 letters, digits, '_', '.', '-'`);

  const p = new Policy();
  const top = obj(doc, 'the policy', ['version', 'zones', 'conduits', 'default_zone']);
  if (top.version !== undefined && top.version !== 1) bad(`version ${JSON.stringify(top.version)} is not supported (1)`);
  list(top.zones, 'zones', MAX_ZONES).forEach((z0, i) => {
    const w = `zones[${i}]`;
    const z = obj(z0, w, ['name', 'cidrs', 'ot']);
    const zone: Zone = { name: name(z.name, `${w}.name`), ot: z.ot === true };
    if (z.ot !== undefined && typeof z.ot !== 'boolean') bad(`${w}.ot must be true or false`);
    if (p.zone(zone.name) !== undefined) bad(`zone "${zone.name}" is defined twice`);
    p.zones.push(zone);
    list(z.cidrs, `${w}.cidrs`, MAX_NETS).forEach((c, j) => {
      if (typeof c !== 'string') bad(`${w}.cidrs[${j}] must be a string like "10.0.0.0/8"`);
      const s = c as string;
      const slash = s.indexOf('/');
      const addr = slash < 0 ? s : s.slice(0, slash);
      let bytes: Uint8Array;
      try {
        bytes = parseIp(addr);
      } catch {
        bad(`${w}.cidrs[${j}]: "${s}" is not an address or CIDR`);
        return;
      }
      const v6 = bytes.length === 16;
      const max = v6 ? 128 : 32;
      const bits = slash < 0 ? max : /^\d{1,3}$/.test(s.slice(slash + 1)) ? Number(s.slice(slash + 1)) : -1;
      if (bits < 0 || bits > max) bad(`${w}.cidrs[${j}]: bad prefix length in "${s}"`);
      const m = maskWords(bits, v6);
      const aw = wordsOf(bytes);
      const net: Net = { zone, v6, w: [aw[0] & m[0], aw[1] & m[1], aw[2] & m[2], aw[3] & m[3]], m, bits };
      if (p.nets.length >= MAX_NETS) bad(`more than ${MAX_NETS} CIDRs`);
      p.nets.push(net);
    });
  });
  p.nets.sort((a, b) => b.bits - a.bits);
  if (top.default_zone !== undefined && top.default_zone !== null) {
    const n = name(top.default_zone, 'default_zone');
    p.defaultZone = p.zone(n) ?? { name: n, ot: false };
  }
  if (top.conduits !== undefined) {
    list(top.conduits, 'conduits', MAX_CONDUITS).forEach((c0, i) => {
      const w = `conduits[${i}]`;
      const c = obj(c0, w, ['name', 'from', 'to', 'proto', 'ports', 'apps', 'functions']);
      const known = (v: unknown) => v === '*' || (typeof v === 'string' && (p.zone(v) !== undefined || p.defaultZone?.name === v));
      if (!known(c.from)) bad(`${w}.from: no zone named ${JSON.stringify(c.from)}`);
      if (!known(c.to)) bad(`${w}.to: no zone named ${JSON.stringify(c.to)}`);
      const conduit: Conduit = {
        index: i + 1,
        name:
          c.name === undefined
            ? null
            : typeof c.name === 'string' && c.name.length <= 200
              ? c.name
              : bad(`${w}.name must be a short string`),
        from: c.from === '*' ? null : (c.from as string),
        to: c.to === '*' ? null : (c.to as string),
        proto: c.proto === undefined ? null : c.proto === 'tcp' || c.proto === 'udp' ? c.proto : bad(`${w}.proto must be "tcp" or "udp"`),
        ports: null,
        apps: null,
        functions: -1,
      };
      if (c.ports !== undefined) {
        conduit.ports = list(c.ports, `${w}.ports`, 1024).map((v, j) => {
          if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535) return [v, v] as [number, number];
          const m = typeof v === 'string' ? /^(\d{1,5})-(\d{1,5})$/.exec(v) : null;
          if (m !== null && Number(m[1]) <= Number(m[2]) && Number(m[2]) <= 65535) return [Number(m[1]), Number(m[2])] as [number, number];
          return bad(`${w}.ports[${j}] must be a port number or a range "lo-hi"`);
        });
      }
      if (c.apps !== undefined) {
        conduit.apps = list(c.apps, `${w}.apps`, APP_FACTS.length).map((a, j) =>
          (APP_FACTS as readonly unknown[]).includes(a) ? (a as AppFact) : bad(`${w}.apps[${j}] must be one of ${APP_FACTS.join(', ')}`),
        );
      }
      if (c.functions !== undefined) {
        conduit.functions = 0;
        list(c.functions, `${w}.functions`, FUNCTION_CLASSES.length).forEach((fcls, j) => {
          const k = FUNCTION_CLASSES.indexOf(fcls as FunctionClass);
          if (k < 0) bad(`${w}.functions[${j}] must be one of ${FUNCTION_CLASSES.join(', ')}`);
          conduit.functions |= 1 << k;
        });
      }
      p.conduits.push(conduit);
    });
  }
  if (p.zones.length === 0) bad('no zones');
  if (!p.zones.some((z) => z.ot)) {
    // Without an explicit flag, a zone named "ot" is the OT zone.
    const ot = p.zone('ot');
    if (ot !== undefined) ot.ot = true;
  }
  return p;
}

export function conduitText(c: Conduit): string {
  return c.name !== null ? `conduit "${c.name}"` : `conduit #${c.index}`;
}
