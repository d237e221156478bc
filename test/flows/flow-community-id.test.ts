// The allocation-free Community ID of a flow equals the reference
// implementation (itself checked against the spec's vectors) on random flows.
import { describe, expect, it } from 'vitest';
import { communityId } from '../../src/flows/community-id.js';
import { Flow } from '../../src/flows/flow.js';
import { flowCommunityId } from '../../src/flows/flow-community-id.js';
import { wordsToBytes } from '../../src/output/ip-text.js';

describe('flowCommunityId', () => {
  it('agrees with the reference on 20 000 random IPv4 and IPv6 TCP/UDP flows', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    for (let i = 0; i < 20_000; i++) {
      const f = new Flow();
      f.ipVersion = i % 3 === 0 ? 6 : 4;
      f.proto = i % 2 === 0 ? 6 : 17;
      f.a0 = rnd();
      f.b0 = rnd();
      if (f.ipVersion === 6) {
        f.a1 = rnd();
        f.a2 = rnd();
        f.a3 = rnd();
        f.b1 = rnd();
        f.b2 = rnd();
        f.b3 = rnd();
      }
      if (i % 7 === 0) {
        f.b0 = f.a0;
        f.b1 = f.a1;
        f.b2 = f.a2;
        f.b3 = f.a3;
      } // same host both ends
      f.aPort = rnd() & 0xffff;
      f.bPort = rnd() & 0xffff;
      // The flow table keeps endpoint A canonically lower (addresses as words, then port).
      const ka = [f.a0 >>> 0, f.a1 >>> 0, f.a2 >>> 0, f.a3 >>> 0, f.aPort];
      const kb = [f.b0 >>> 0, f.b1 >>> 0, f.b2 >>> 0, f.b3 >>> 0, f.bPort];
      const k = ka.findIndex((x, j) => x !== kb[j]);
      if (k >= 0 && ka[k] > kb[k]) {
        [f.a0, f.a1, f.a2, f.a3, f.aPort, f.b0, f.b1, f.b2, f.b3, f.bPort] = [
          f.b0,
          f.b1,
          f.b2,
          f.b3,
          f.bPort,
          f.a0,
          f.a1,
          f.a2,
          f.a3,
          f.aPort,
        ];
      }
      const a = wordsToBytes(f.ipVersion, f.a0, f.a1, f.a2, f.a3);
      const b = wordsToBytes(f.ipVersion, f.b0, f.b1, f.b2, f.b3);
      expect(flowCommunityId(f)).toBe(communityId(f.proto, a, b, f.aPort, f.bPort));
    }
  });

  it('gives the spec README vectors', () => {
    const f = new Flow();
    f.ipVersion = 4;
    f.proto = 6;
    f.a0 = 0x01020304; // 1.2.3.4:1122 -> 5.6.7.8:3344
    f.b0 = 0x05060708;
    f.aPort = 1122;
    f.bPort = 3344;
    expect(flowCommunityId(f)).toBe('1:wCb3OG7yAFWelaUydu0D+125CLM=');
    f.proto = 17;
    expect(flowCommunityId(f)).toBe('1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=');
  });
});
