// MAC vendor from the IEEE OUI registry (npm oui-data, the IEEE's MA-L list
// as JSON). Loaded on first use only: 5.6 MB of JSON, about 0.1 s, paid by
// runs that write an inventory, never by the packet path of other runs.
import { createRequire } from 'node:module';

let table: Record<string, string> | null = null;

/** Vendor (the registry's first line: the organisation name) of a MAC given as text, or null. */
export function macVendor(mac: string): string | null {
  if (table === null) {
    try {
      table = createRequire(import.meta.url)('oui-data') as Record<string, string>;
    } catch {
      table = {};
    }
  }
  const key = mac.slice(0, 8).replace(/:/g, '').toUpperCase();
  const v = table[key];
  if (v === undefined) return null;
  const nl = v.indexOf('\n');
  // The registry spells some names with a trailing comma ("Siemens AG,"): one name per vendor.
  return (nl < 0 ? v : v.slice(0, nl)).replace(/[\s,]+$/, '');
}

/** "aa:bb:cc:dd:ee:ff" from the high 16 and low 32 bits. */
export function macText(hi16: number, lo32: number): string {
  const h = (hi16 & 0xffff).toString(16).padStart(4, '0');
  const l = (lo32 >>> 0).toString(16).padStart(8, '0');
  return `${h.slice(0, 2)}:${h.slice(2)}:${l.slice(0, 2)}:${l.slice(2, 4)}:${l.slice(4, 6)}:${l.slice(6)}`;
}
