// Who is the client of a new flow, before any dissector has an opinion.
// A SYN decides outright (see Engine.flowPacket). Without one, the endpoint on
// a well-known service port is the server; failing that, for TCP the lower
// port, for UDP the receiver of the first datagram.
import type { Packet } from '../decode/packet.js';
import type { Flow } from './flow.js';

/** ICS and other service ports that are servers even above 1023. */
const SERVICE_PORTS = new Set([502, 20000, 2404, 4840, 44818, 2222, 102, 47808, 1911, 789, 5094, 18245, 20547, 1962, 5007, 9600, 34962, 34963, 34964, 4000, 5020, 1883, 8883, 3389, 5900, 8080, 8443]);

function isService(port: number): boolean {
  return port < 1024 || SERVICE_PORTS.has(port);
}

/** Sets flow.clientIsA for the first packet of a flow (src is A when srcIsA). */
export function assignRoles(f: Flow, srcIsA: boolean, p: Packet): void {
  const sIsSvc = isService(p.sport);
  const dIsSvc = isService(p.dport);
  let srcIsClient: boolean;
  if (dIsSvc !== sIsSvc) srcIsClient = dIsSvc;
  else if (p.proto === 6 && p.sport !== p.dport) srcIsClient = p.sport > p.dport;
  else srcIsClient = true;
  f.clientIsA = srcIsClient === srcIsA;
}
