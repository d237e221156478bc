// The network map as a Graphviz graph (DOT), laid out later by the real
// engine (layout.ts). Up to `groupAbove` addresses each asset is a node;
// above it assets are grouped by subnet (/24, widening to /16 and /8 until
// the groups number at most MAX_GROUPS) so that 10 000 assets stay legible.
// With a policy its zones are the clusters; without, subnets are.
//
// Node and edge names are generated (a12, g3, e7); text from the snapshot
// reaches DOT only through dotString, and hover titles are put into the SVG
// afterwards (layout.ts) escaped as HTML.
import type { Policy } from '../detect/policy.js';
import { APP_NAMES } from '../dissectors/index.js';
import { parseIp } from '../flows/community-id.js';
import { dotString } from './escape.js';
import type { ReportAsset, ReportSnapshot } from './model.js';
import { alertCounts, identityParts, roleText, zoneOfIp } from './tables.js';

export const DEFAULT_GROUP_ABOVE = 300;
export const MAX_GROUPS = 400;
export const MAX_EDGES = 1200;

/** Fill colour of a node by the roles its assets play. */
export const ROLE_COLOURS = { server: '#9ecae1', client: '#fdd0a2', both: '#cbc9e2', none: '#e5e5e5' } as const;
export type RoleClass = keyof typeof ROLE_COLOURS;

/** Edge colours, given to the protocols in registry order; unidentified traffic is grey. */
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#ff7f0e', '#393b79', '#637939'];
export const APP_COLOURS: Record<string, string> = Object.fromEntries(APP_NAMES.map((app, i) => [app, PALETTE[i % PALETTE.length]]));
export const OTHER_COLOUR = '#7f7f7f';
export const MARK_COLOUR = '#d62728';
/** Function classes that change the process or the device: drawn thick, named on the edge. */
export const HIGH_CLASSES = ['write', 'control', 'config'];

export interface MapNode {
  kind: 'asset' | 'group';
  label: string;
  /** The addresses behind the node (one for an asset). */
  ips: string[];
}

export interface MapGraph {
  dot: string;
  /** The Graphviz layout engine for this graph. */
  engine: 'dot' | 'fdp' | 'neato';
  mode: 'assets' | 'groups';
  /** Grouping prefix (IPv4 bits) in groups mode. */
  prefix: number | null;
  nodes: Record<string, MapNode>;
  /** Hover text by SVG element id. */
  titles: Map<string, string>;
  edgesDrawn: number;
  edgesTotal: number;
}

export function roleClass(a: ReportAsset | undefined): RoleClass {
  if (a === undefined) return 'none';
  let s = false;
  let c = false;
  for (const r of a.roles) {
    if (r.role === 'server') s = true;
    else if (r.role === 'client') c = true;
  }
  return s && c ? 'both' : s ? 'server' : c ? 'client' : 'none';
}

/** Subnet of an address as text: IPv4 /bits, IPv6 /(bits + 40), e.g. /24 -> /64. */
export function subnetOf(ip: string, bits: number): string {
  let b: Uint8Array;
  try {
    b = parseIp(ip);
  } catch {
    return 'other';
  }
  if (b.length === 4) {
    const parts = [0, 1, 2, 3].map((i) => (i * 8 < bits ? b[i] : 0));
    return `${parts.join('.')}/${bits}`;
  }
  const v6 = bits + 40;
  const groups: string[] = [];
  for (let i = 0; i < v6 / 16; i++) groups.push(((b[2 * i] << 8) | b[2 * i + 1]).toString(16));
  return `${groups.join(':')}::/${v6}`;
}

interface EdgeAcc {
  from: string;
  to: string;
  app: string | null;
  /** null: the source does not count flows per pair. */
  flows: number | null;
  pairs: number;
  classes: Set<string>;
}

function assetTitle(ip: string, a: ReportAsset | undefined, zone: string | null, alerts: number): string {
  if (a === undefined) return `${ip}: seen only as a peer`;
  const id = identityParts(a);
  const lines = [`${ip}${a.vlan !== null ? ` vlan ${a.vlan}` : ''}${zone !== null ? ` zone ${zone}` : ''}`];
  const who = [id.vendor, id.product, id.revision].filter((x) => x !== null).join(' ');
  if (who !== '') lines.push(who);
  if (a.mac !== null) lines.push(`MAC ${a.mac}${a.vendor ? ` (${a.vendor})` : ''}`);
  for (const r of a.roles.slice(0, 6)) lines.push(roleText(r));
  const unapproved = a.services.filter((v) => v.status === 'unapproved').length;
  if (unapproved > 0) lines.push(`${unapproved} unapproved service(s)`);
  if (alerts > 0) lines.push(`${alerts} alert(s)`);
  return lines.join('\n');
}

/** Fewest addresses a /24 (then a /16) group must have; fewer move up to the wider subnet. */
export const MIN_GROUP = 3;

/**
 * Group keys (zone|subnet) of addresses: /24 where at least MIN_GROUP
 * addresses share one, else /16, else /8, so a plant's dense subnets keep
 * their own box and scattered addresses gather. When that still makes more
 * than MAX_GROUPS, every address takes one prefix, widened until it fits.
 * Returns the finest prefix used.
 */
function groupAddresses(ips: Set<string>, zone: Map<string, string | null>, keyOf: Map<string, string>, rest: Set<string>): number {
  const key = (ip: string, bits: number) => `${zone.get(ip) ?? ''}|${subnetOf(ip, bits)}`;
  const level = new Map<string, number>();
  for (const ip of ips) level.set(ip, 24);
  for (const bits of [24, 16]) {
    const count = new Map<string, number>();
    for (const ip of ips) if (level.get(ip) === bits) count.set(key(ip, bits), (count.get(key(ip, bits)) ?? 0) + 1);
    for (const ip of ips) if (level.get(ip) === bits && count.get(key(ip, bits))! < MIN_GROUP) level.set(ip, bits - 8);
  }
  for (const ip of ips) keyOf.set(ip, key(ip, level.get(ip)!));
  if (new Set(keyOf.values()).size <= MAX_GROUPS) {
    // A wide group whose subnet also holds finer groups is the rest of that subnet.
    for (const ip of ips) for (const bits of [16, 8]) if (level.get(ip)! > bits) rest.add(key(ip, bits));
    return Math.max(...level.values());
  }
  let bits = 16;
  for (; bits > 8; bits -= 8) {
    keyOf.clear();
    for (const ip of ips) keyOf.set(ip, key(ip, bits));
    if (new Set(keyOf.values()).size <= MAX_GROUPS) return bits;
  }
  for (const ip of ips) keyOf.set(ip, key(ip, 8));
  return 8;
}

export function buildGraph(s: ReportSnapshot, policy: Policy | null, groupAbove = DEFAULT_GROUP_ABOVE): MapGraph {
  const assetByIp = new Map<string, ReportAsset>();
  for (const a of s.assets) if (!assetByIp.has(a.ip)) assetByIp.set(a.ip, a);
  const ips = new Set<string>(assetByIp.keys());
  for (const t of s.talks) ips.add(t.client).add(t.server);
  const { byIp } = alertCounts(s);
  const zone = new Map<string, string | null>();
  for (const ip of ips) zone.set(ip, zoneOfIp(policy, ip));
  const marked = (ip: string) => (byIp.get(ip) ?? 0) > 0 || (assetByIp.get(ip)?.services.some((v) => v.status === 'unapproved') ?? false);

  const grouped = ips.size > groupAbove;
  let prefix: number | null = null;
  // Node key of each address: itself, or its (zone, subnet) group.
  const keyOf = new Map<string, string>();
  const rest = new Set<string>();
  if (grouped) {
    prefix = groupAddresses(ips, zone, keyOf, rest);
  } else {
    for (const ip of ips) keyOf.set(ip, ip);
  }

  const nodes: Record<string, MapNode> = {};
  const titles = new Map<string, string>();
  const idOfKey = new Map<string, string>();
  const members = new Map<string, string[]>();
  for (const ip of [...ips].sort(compareIp)) {
    const k = keyOf.get(ip)!;
    let id = idOfKey.get(k);
    if (id === undefined) {
      id = `${grouped ? 'g' : 'a'}${idOfKey.size}`;
      idOfKey.set(k, id);
      members.set(id, []);
    }
    members.get(id)!.push(ip);
  }

  const inside = new Map<string, number>();
  // Edges: one per (client node, server node, app), thick when writes, control or config were used.
  const edges = new Map<string, EdgeAcc>();
  for (const t of s.talks) {
    const from = idOfKey.get(keyOf.get(t.client)!)!;
    const to = idOfKey.get(keyOf.get(t.server)!)!;
    if (grouped && from === to) {
      // Inside one group: counted on the node, not drawn as a loop.
      inside.set(from, (inside.get(from) ?? 0) + 1);
      continue;
    }
    const k = `${from}|${to}|${t.app ?? ''}`;
    let e = edges.get(k);
    if (e === undefined) edges.set(k, (e = { from, to, app: t.app, flows: null, pairs: 0, classes: new Set() }));
    if (t.flows !== null) e.flows = (e.flows ?? 0) + t.flows;
    e.pairs++;
    for (const c of t.classes) e.classes.add(c);
  }
  // Clusters: zones with a policy; subnets of single assets without one.
  const clusterOf = (id: string): string | null => {
    const ip = members.get(id)![0];
    if (policy !== null) return zone.get(ip) ?? null;
    return grouped ? null : subnetOf(ip, 24);
  };
  const clusters = new Map<string, string[]>();
  const loose: string[] = [];
  for (const id of members.keys()) {
    const c = clusterOf(id);
    if (c === null) loose.push(id);
    else {
      if (!clusters.has(c)) clusters.set(c, []);
      clusters.get(c)!.push(id);
    }
  }

  const nodeLines = (id: string): string => {
    const m = members.get(id)!;
    let label: string;
    let fill: string;
    let mark: boolean;
    if (!grouped) {
      const ip = m[0];
      const a = assetByIp.get(ip);
      const id2 = a ? identityParts(a) : null;
      const term = a?.roles.find((r) => r.role === 'server' && r.term !== 'server')?.term;
      const second = id2?.product ?? id2?.vendor ?? term ?? null;
      label = second !== null ? `${ip}\n${second.slice(0, 32)}` : ip;
      fill = ROLE_COLOURS[roleClass(a)];
      mark = marked(ip);
      nodes[id] = { kind: 'asset', label: ip, ips: m };
      titles.set(id, assetTitle(ip, a, zone.get(ip) ?? null, byIp.get(ip) ?? 0));
    } else {
      const k = keyOf.get(m[0])!;
      const subnet = `${k.split('|')[1]}${rest.has(k) ? ' (rest)' : ''}`;
      const counts = { server: 0, client: 0, both: 0, none: 0 };
      let nMarked = 0;
      for (const ip of m) {
        counts[roleClass(assetByIp.get(ip))]++;
        if (marked(ip)) nMarked++;
      }
      const servers = counts.server + counts.both;
      const clients = counts.client + counts.both;
      label = `${subnet}\n${m.length} address${m.length === 1 ? '' : 'es'}`;
      if (servers + clients > 0) label += `\n${servers} srv / ${clients} cli`;
      const pairs = inside.get(id) ?? 0;
      if (pairs > 0) label += `\n${pairs} pair${pairs === 1 ? '' : 's'} inside`;
      fill = ROLE_COLOURS[servers > 0 && clients > 0 ? 'both' : servers > 0 ? 'server' : clients > 0 ? 'client' : 'none'];
      mark = nMarked > 0;
      nodes[id] = { kind: 'group', label: subnet, ips: m };
      const z = zone.get(m[0]);
      titles.set(
        id,
        `${subnet}${z ? ` zone ${z}` : ''}: ${m.length} addresses, ${servers} serving, ${clients} client` +
          `${nMarked > 0 ? `\n${nMarked} with alerts or unapproved services` : ''}` +
          `${pairs > 0 ? `\n${pairs} client-server pairs inside the subnet` : ''}\nclick for the assets and their services`,
      );
    }
    const attrs = [`id=${dotString(id)}`, `label=${dotLabel(label)}`, `fillcolor="${fill}"`];
    if (mark) attrs.push(`color="${MARK_COLOUR}"`, 'penwidth=2.5', 'peripheries=2');
    return `    ${id} [${attrs.join(', ')}];`;
  };

  // One address a node: dot, clients left of the servers they use. Groups:
  // mostly unconnected subnets and a few hubs, which a hierarchy would stack
  // in one column; a force layout packs them (fdp keeps zone clusters).
  // dot's own packing is not used: with clusters it can run for minutes.
  const engine: MapGraph['engine'] = !grouped ? 'dot' : clusters.size > 0 ? 'fdp' : 'neato';
  const graphAttrs = !grouped
    ? 'rankdir=LR, nodesep=0.12, ranksep=0.9, newrank=true'
    : 'pack=true, packmode="array_u", overlap=false, splines=false, sep="+6"';
  const lines: string[] = [
    'digraph otwatch {',
    `  graph [${graphAttrs}, fontname="Helvetica", fontsize=11, outputorder=edgesfirst, bgcolor="transparent"];`,
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, margin="0.08,0.03", height=0.3, color="#555555"];',
    '  edge [arrowsize=0.5, fontname="Helvetica", fontsize=8];',
  ];
  let zi = 0;
  for (const [name, ids] of [...clusters].sort((x, y) => x[0].localeCompare(y[0]))) {
    const zid = `z${zi++}`;
    const ot = policy?.zone(name)?.ot === true;
    lines.push(`  subgraph cluster_${zid} {`);
    const label = dotString(policy !== null ? `zone ${name}` : name);
    lines.push(
      `    id=${dotString(zid)}; label=${label}; style="rounded${ot ? ',filled' : ''}"; ` +
        `color="#888888"; fillcolor="#fff7f0"; labeljust="l";`,
    );
    for (const id of ids) lines.push(nodeLines(id));
    lines.push('  }');
    titles.set(zid, policy !== null ? `zone ${name}${ot ? ' (OT)' : ''}: ${ids.length} node(s)` : `subnet ${name}`);
  }
  for (const id of loose) lines.push(nodeLines(id));

  const high = (e: EdgeAcc) => HIGH_CLASSES.some((c) => e.classes.has(c));
  const all = [...edges.values()].sort((x, y) => Number(high(y)) - Number(high(x)) || (y.flows ?? 0) - (x.flows ?? 0) || y.pairs - x.pairs);
  const drawn = all.slice(0, MAX_EDGES);
  drawn.forEach((e, i) => {
    const eid = `e${i}`;
    const colour = (e.app !== null ? APP_COLOURS[e.app] : undefined) ?? OTHER_COLOUR;
    const hi = HIGH_CLASSES.filter((c) => e.classes.has(c));
    const attrs = [`id=${dotString(eid)}`, `color="${colour}"`];
    if (hi.length > 0) attrs.push('penwidth=3', `label=${dotString(hi.join(','))}`, `fontcolor="${MARK_COLOUR}"`);
    lines.push(`  ${e.from} -> ${e.to} [${attrs.join(', ')}];`);
    const classes = [...e.classes].sort().join(', ');
    const counts: string[] = [];
    if (e.flows !== null) counts.push(`${e.flows} flow(s)`);
    if (grouped) counts.push(`${e.pairs} client-server pair(s)`);
    titles.set(eid, `${e.app ?? 'unidentified'}${counts.length > 0 ? `: ${counts.join(', ')}` : ''}${classes ? `; ${classes}` : ''}`);
  });
  lines.push('}');
  const mode = grouped ? 'groups' : 'assets';
  return { dot: lines.join('\n'), engine, mode, prefix, nodes, titles, edgesDrawn: drawn.length, edgesTotal: all.length };
}

/** A multi-line DOT label: each line escaped, joined by DOT's \n. */
function dotLabel(text: string): string {
  return `"${text
    .split('\n')
    .map((l) => dotString(l).slice(1, -1))
    .join('\\n')}"`;
}

/** Addresses in numeric order (IPv4 before IPv6); text that is no address last. */
export function compareIp(x: string, y: string): number {
  const bx = tryIp(x);
  const by = tryIp(y);
  if (bx === null || by === null) return bx !== null ? -1 : by !== null ? 1 : x < y ? -1 : x > y ? 1 : 0;
  if (bx.length !== by.length) return bx.length - by.length;
  for (let i = 0; i < bx.length; i++) if (bx[i] !== by[i]) return bx[i] - by[i];
  return 0;
}

function tryIp(s: string): Uint8Array | null {
  try {
    return parseIp(s);
  } catch {
    return null;
  }
}
