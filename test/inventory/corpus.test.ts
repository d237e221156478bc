// corpus-only: every test here reads ../shared/pcaps (see vitest.config.ts)
// The inventory over the whole shared corpus (every capture in MANIFEST.tsv,
// one run) agrees with the flow records of the same run: every asset sent a
// packet, every endpoint that sent payload back is a service with the flows'
// application, no service only refused, and roles match confirmed flows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runCli, type Rec } from '../helpers/run.js';
import { SHARED_PCAPS, withShared } from '../helpers/shared.js';

withShared(() => {
  describe('inventory over the shared corpus', () => {
    it('agrees with the flow records', () => {
      const manifest = readFileSync(join(SHARED_PCAPS, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
      const files = manifest.map((l) => join(SHARED_PCAPS, l.split('\t')[0]));
      expect(files.length).toBeGreaterThan(300);
      const db = join(mkdtempSync(join(tmpdir(), 'otwatch-invc-')), 'corpus.db');
      const r = runCli(['read', '--json', '--inventory', db, ...files]);
      expect(r.stderr).not.toMatch(/internal error|inventory .*failed/);
      const flows = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{"type":"flow"'))
        .map((l) => JSON.parse(l) as Rec);
      const assets = runCli(['inventory', 'show', '--json', db])
        .stdout.trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Rec);
      const key = (vlan: number | null, ip: string) => `${vlan ?? -1} ${ip}`;

      const senders = new Set<string>();
      const answeredWithPayload = new Map<string, Set<string | null>>();
      const repliedAtAll = new Set<string>();
      const rolesSeen = new Set<string>();
      for (const f of flows) {
        if (f.pkts.c2s > 0) senders.add(key(f.vlan, f.client.ip));
        if (f.pkts.s2c > 0) senders.add(key(f.vlan, f.server.ip));
        const ep = `${key(f.vlan, f.server.ip)} ${f.proto}/${f.server.port}`;
        if (f.pkts.s2c > 0 && f.state !== 'rejected') repliedAtAll.add(ep);
        if (f.payload_bytes.s2c > 0) {
          if (!answeredWithPayload.has(ep)) answeredWithPayload.set(ep, new Set());
          answeredWithPayload.get(ep)!.add(f.app);
        }
        if (f.app !== null && f.pkts.c2s > 0) rolesSeen.add(`${key(f.vlan, f.client.ip)} ${f.app} client`);
        if (f.app !== null && f.pkts.s2c > 0) rolesSeen.add(`${key(f.vlan, f.server.ip)} ${f.app} server`);
      }
      expect(new Set(assets.map((a) => key(a.vlan, a.ip)))).toEqual(senders);
      const services = new Map<string, Rec>();
      for (const a of assets) for (const s of a.services) services.set(`${key(a.vlan, a.ip)} ${s.proto}/${s.port}`, s);
      for (const [ep, apps] of answeredWithPayload) {
        const s = services.get(ep);
        expect(s, ep).toBeDefined();
        // The service's app is one its flows confirmed (the latest), or null when none did.
        if (s!.app !== null) expect(apps.has(s!.app), ep).toBe(true);
        else
          expect(
            [...apps].every((x) => x === null),
            ep,
          ).toBe(true);
      }
      for (const ep of services.keys()) expect(repliedAtAll.has(ep), ep).toBe(true);
      const roles = new Set(assets.flatMap((a) => a.roles.map((x: Rec) => `${key(a.vlan, a.ip)} ${x.app} ${x.role}`)));
      expect(roles).toEqual(rolesSeen);
      // Every protocol shows up with both roles and its addresses.
      for (const app of ['modbus', 'dnp3', 'iec104', 'opcua']) {
        const withIds = assets.filter((a) => a.roles.some((x: Rec) => x.app === app && x.ids.length > 0));
        expect(withIds.length, app).toBeGreaterThan(3);
      }
    });
  });
});
