// The one table of service ports: a port on which the endpoint is the server
// when nothing better tells (no SYN seen, no content that names the roles).
// Used by the flow table for roles and by detection for listeners. It is the
// privileged range, the ports of the registered protocol modules, and the
// ports below: services no module decodes but that are servers above 1023.
import { moduleServicePorts } from '../dissectors/index.js';

const OTHER_SERVICE_PORTS = [
  // ICS protocols no module decodes (yet): EtherNet/IP (44818, 2222),
  // BACnet/IP (47808), Niagara Fox (1911), Red Lion Crimson (789), HART-IP
  // (5094), GE SRTP (18245), ProConOS (20547), PCWorx (1962), MELSEC (5007),
  // OMRON FINS (9600), PROFINET (34962-34964), OPC UA over TLS (4843), the
  // alternate Modbus port of simulators (5020), Emerson ROC Plus (4000).
  44818, 2222, 47808, 1911, 789, 5094, 18245, 20547, 1962, 5007, 9600, 34962, 34963, 34964, 4843, 5020, 4000,
  // IT services often found in OT networks: MQTT (1883, 8883), RDP (3389),
  // VNC (5900), HTTP alternates (8080, 8443), SQL Server (1433), Oracle
  // (1521), MySQL (3306), PostgreSQL (5432).
  1883, 8883, 3389, 5900, 8080, 8443, 1433, 1521, 3306, 5432,
];

const SERVICE = new Uint8Array(65536);
for (let p = 0; p < 1024; p++) SERVICE[p] = 1;
for (const p of [...moduleServicePorts(), ...OTHER_SERVICE_PORTS]) SERVICE[p] = 1;

/** Is `port` a service port (its endpoint presumed the server)? */
export function isServicePort(port: number): boolean {
  return SERVICE[port] === 1;
}
