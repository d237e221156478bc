// Who is the client of a new flow, before any dissector has an opinion.
// A SYN decides outright (see Engine.flowPacket). Without one, the endpoint on
// a well-known service port is the server; failing that, for TCP the lower
// port, for UDP the receiver of the first datagram.
import type { Packet } from '../decode/packet.js';
import type { Flow } from './flow.js';
import { isServicePort } from './service-ports.js';

/** Sets flow.clientIsA for the first packet of a flow (src is A when srcIsA). */
export function assignRoles(f: Flow, srcIsA: boolean, p: Packet): void {
  const sIsSvc = isServicePort(p.sport);
  const dIsSvc = isServicePort(p.dport);
  let srcIsClient: boolean;
  if (dIsSvc !== sIsSvc) srcIsClient = dIsSvc;
  else if (p.proto === 6 && p.sport !== p.dport) srcIsClient = p.sport > p.dport;
  else srcIsClient = true;
  f.clientIsA = srcIsClient === srcIsA;
}
