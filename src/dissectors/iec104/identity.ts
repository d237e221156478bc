// What IEC 60870-5-104 reveals about the endpoints: the common address of
// the ASDU names the controlled station (the server), whichever way it goes.
import type { Dir } from '../types.js';
import type { IdentitySink } from '../module.js';
import type { Iec104Pdu } from './parser.js';

export function identifyIec104(pdu: Iec104Pdu, _dir: Dir, sink: IdentitySink): void {
  // 0xffff is the global (broadcast) address, not a station's own; every ASDU of a station names it again.
  if (pdu.hasAsdu && pdu.ca !== 0xffff && !sink.repeated(pdu.ca)) sink.address('server', 'common_address', pdu.ca);
}
