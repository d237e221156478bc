// What Modbus/TCP reveals about the endpoints: the unit ids the server
// answers for (a gateway serves several). Device identity (FC 43/14) joins
// here once the parser decodes it.
import type { Dir } from '../types.js';
import type { IdentitySink } from '../module.js';
import type { ModbusPdu } from './parser.js';

export function identifyModbus(pdu: ModbusPdu, _dir: Dir, sink: IdentitySink): void {
  // Requests and responses carry the same unit id: the server side's address.
  if (pdu.unit >= 0) sink.address('server', 'unit_id', pdu.unit);
}
