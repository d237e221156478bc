// What S7comm reveals about the endpoints: the PLC's rack and slot (from the
// called TSAP of the connection request), and its order number, firmware and
// names (from SZL 0x0011 / 0x001C responses, sent by the PLC).
import type { Dir } from '../types.js';
import type { IdentitySink, Side } from '../module.js';
import type { S7Pdu } from './parser.js';

export function identify(pdu: S7Pdu, dir: Dir, sink: IdentitySink): void {
  if (pdu.rack >= 0) sink.address('server', 'rack_slot', `${pdu.rack}/${pdu.slot}`);
  if (pdu.dstTsap !== null) sink.address('server', 'tsap', pdu.dstTsap);
  if (pdu.srcTsap !== null) sink.address('client', 'tsap', pdu.srcTsap);
  // SZL answers come from the PLC: the side that sent them.
  const side: Side = dir === 0 ? 'client' : 'server';
  if (pdu.orderNumber !== null) sink.identity(side, 'order_number', pdu.orderNumber);
  if (pdu.firmware !== null) sink.identity(side, 'firmware', pdu.firmware);
  if (pdu.moduleType !== null) sink.identity(side, 'product_name', pdu.moduleType);
  if (pdu.moduleName !== null) sink.identity(side, 'module_name', pdu.moduleName);
  if (pdu.systemName !== null) sink.identity(side, 'system_name', pdu.systemName);
  if (pdu.plantName !== null) sink.identity(side, 'plant_name', pdu.plantName);
  if (pdu.serial !== null) sink.identity(side, 'serial', pdu.serial);
  if (pdu.orderNumber !== null || pdu.firmware !== null) sink.identity(side, 'vendor', 'Siemens');
}
