// What Modbus/TCP reveals about the endpoints: the unit ids the Modbus
// server answers for (a gateway serves several), and the device identity of
// Read Device Identification responses (fc 43 / MEI 14). The Modbus server is
// the side that sends responses (pdu.resp follows the parser's view of it,
// which holds even when a device on 502 opened the connection itself).
import type { Dir } from '../types.js';
import type { IdentitySink, Side } from '../module.js';
import { idName, type ModbusPdu } from './parser.js';

export function identifyModbus(pdu: ModbusPdu, dir: Dir, sink: IdentitySink): void {
  const sender: Side = dir === 0 ? 'client' : 'server';
  const server: Side = pdu.resp ? sender : sender === 'client' ? 'server' : 'client';
  // A poll names the same unit in every request and response: reported again only when it changes.
  if (pdu.unit >= 0 && !sink.repeated(pdu.unit * 2 + (server === 'server' ? 1 : 0))) sink.address(server, 'unit_id', pdu.unit);
  const b = pdu.idBuf;
  if (b === null || !pdu.resp) return;
  for (let i = 0; i < pdu.idCount; i++) {
    const name = idName(pdu.idIds[i]);
    sink.identity(server, name === 'vendor_name' ? 'vendor' : name, b.toString('utf8', pdu.idPos[i], pdu.idPos[i] + pdu.idLen[i]));
  }
}
