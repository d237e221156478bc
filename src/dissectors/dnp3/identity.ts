// What DNP3 reveals about the endpoints: the link addresses of master and
// outstation (source is the sender's own address, destination the peer's).
import type { Dir } from '../types.js';
import type { IdentitySink } from '../module.js';
import type { Dnp3Pdu } from './parser.js';

export function identifyDnp3(pdu: Dnp3Pdu, dir: Dir, sink: IdentitySink): void {
  if (!pdu.crc_ok) return; // a header that failed its CRC names nobody
  // Master and outstation name each other in every frame: reported again only when the pair changes.
  if (sink.repeated(dir === 0 ? pdu.src * 0x10000 + pdu.dst : pdu.dst * 0x10000 + pdu.src)) return;
  sink.address(dir === 0 ? 'client' : 'server', 'link_address', pdu.src);
  sink.address(dir === 0 ? 'server' : 'client', 'link_address', pdu.dst);
}
