// What EtherNet/IP reveals about the endpoints: the ListIdentity reply's
// device identity (about its sender), the session handle and the implicit
// I/O connection ids each side uses.
import type { IdentitySink, Side } from '../module.js';
import type { Dir } from '../types.js';
import type { EnipPdu } from './parser.js';

export function identify(p: EnipPdu, dir: Dir, sink: IdentitySink): void {
  const sender: Side = dir === 0 ? 'client' : 'server';
  if (p.session > 0) sink.address('server', 'enip_session', p.session);
  if (p.io && p.connId >= 0) sink.address(sender, 'cip_connection_id', p.connId);
  if (p.vendor < 0) return;
  sink.identity(sender, 'vendor', p.vendor);
  sink.identity(sender, 'device_type', p.deviceType);
  sink.identity(sender, 'product_code', p.productCode);
  sink.identity(sender, 'revision', `${p.revMajor}.${p.revMinor}`);
  sink.identity(sender, 'serial', p.serial);
  if (p.nameOff >= 0 && p.buf !== null) sink.identity(sender, 'product_name', p.buf.toString('latin1', p.nameOff, p.nameOff + p.nameLen));
  if (p.state >= 0) sink.identity(sender, 'state', p.state);
}
