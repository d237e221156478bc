// tshark 4.0 as a differential oracle: per-frame decodes of one capture,
// made live when tshark is installed (OTWATCH_TSHARK=ref forces the stored
// references in ../shared/pcaps/_tshark_ref, made with the same version).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { SHARED_PCAPS } from './shared.js';

const run = promisify(execFile);

export interface ManifestRow {
  relpath: string;
  protocols: string;
  tsharkRef: string[];
  decodeAs: string[];
}

export function readManifest(): ManifestRow[] {
  const lines = readFileSync(resolve(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const cols = lines[0].split('\t');
  const ci = (n: string) => cols.indexOf(n);
  return lines.slice(1).map((l) => {
    const c = l.split('\t');
    const protocols = c[ci('protocols_present')] ?? '';
    const decodeAs = [...protocols.matchAll(/-d (\S+?,\w+)\)/g)].map((m) => m[1]);
    return {
      relpath: c[ci('relpath')],
      protocols,
      tsharkRef: (c[ci('tshark_reference')] ?? '').split(/[,;]/).filter((x) => x !== ''),
      decodeAs,
    };
  });
}

export let tsharkLive = false;
try {
  tsharkLive = process.env.OTWATCH_TSHARK !== 'ref' && existsSync('/usr/bin/tshark');
} catch {
  tsharkLive = false;
}

export type TsharkRow = Record<string, string>;

export interface TsharkRowsOptions {
  /** More tshark arguments for a live decode (e.g. `--disable-protocol idmp`). */
  args?: readonly string[];
  /** The stored reference even when tshark runs live (a plugin's references). */
  ref?: boolean;
}

/** Rows of tshark's decode for `proto` ('modbus' | 'dnp3' | ...) with the
 *  fields of the stored reference; multi-PDU frames aggregate with '|'. */
export async function tsharkRows(row: ManifestRow, proto: string, o: TsharkRowsOptions = {}): Promise<TsharkRow[] | null> {
  const ref = row.tsharkRef.find((r) => r.endsWith(`.${proto}.tsv`));
  if (ref === undefined) return null;
  const refText = readFileSync(resolve(SHARED_PCAPS, ref), 'utf8');
  const header = refText.split('\n', 1)[0].split('\t');
  let text = refText;
  if (tsharkLive && o.ref !== true) {
    const args = [
      '-n',
      '-r',
      resolve(SHARED_PCAPS, row.relpath),
      ...(o.args ?? []),
      '-T',
      'fields',
      '-E',
      'header=y',
      '-E',
      'separator=/t',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=|',
    ];
    for (const d of row.decodeAs) args.push('-d', d);
    // Retransmitted segments are decoded again by tshark; otwatch delivers stream bytes once.
    const filter = { iec104: 'iec60870_104' }[proto] ?? proto;
    args.push(
      '-Y',
      `${filter} && !tcp.analysis.retransmission && !tcp.analysis.fast_retransmission && !tcp.analysis.spurious_retransmission`,
    );
    for (const f of header) args.push('-e', f);
    const out = await run('tshark', args, { maxBuffer: 256 << 20, env: { ...process.env, LC_ALL: 'C' } });
    text = out.stdout;
  }
  const lines = text.split('\n').filter((l) => l !== '');
  const h = lines[0].split('\t');
  return lines.slice(1).map((l) => {
    const c = l.split('\t');
    const o: TsharkRow = {};
    h.forEach((k, i) => {
      o[k] = c[i] ?? '';
    });
    return o;
  });
}

/** The values of a field aggregated with '|' (several PDUs in one frame). */
export function split(v: string | undefined): string[] {
  return v === undefined || v === '' ? [] : v.split('|');
}

/** "ip:port" of a row's source or destination (first value when aggregated). */
export function endpoint(r: TsharkRow, side: 'src' | 'dst'): string {
  const ip = r[`ip.${side}`] || r[`ipv6.${side}`];
  const port = r[`tcp.${side}port`] || r[`udp.${side}port`];
  return `${ip.split('|')[0]}:${port.split('|')[0]}`;
}
