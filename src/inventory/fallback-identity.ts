// Interim identity hook for dissectors that do not implement
// ProtocolModule.identify yet: the protocol addresses today's PDU objects
// already carry. When a module brings its own identify, that one is used and
// this is not (see observer.ts). Device identity (Modbus FC 43/14, OPC UA
// application description) needs the modules' own decoding.
import type { IdentitySink } from '../dissectors/module.js';
import type { Dir, Dissector, PduBase } from '../dissectors/types.js';
import type { ModbusPdu } from '../dissectors/modbus.js';
import type { Dnp3Pdu } from '../dissectors/dnp3.js';
import type { Iec104Pdu } from '../dissectors/iec104.js';
import type { OpcuaPdu } from '../dissectors/opcua.js';

export type IdentifyFn = (pdu: PduBase, dir: Dir, sink: IdentitySink) => void;

function modbus(pdu: PduBase, _dir: Dir, sink: IdentitySink): void {
  // The unit id addresses the device behind the server (a gateway serves several).
  sink.address('server', 'unit_id', (pdu as ModbusPdu).unit);
}

function dnp3(pdu: PduBase, dir: Dir, sink: IdentitySink): void {
  const p = pdu as Dnp3Pdu;
  if (!p.crc_ok) return;
  // Link src is the sender's own address: the master's on requests, the outstation's on responses.
  sink.address(dir === 0 ? 'client' : 'server', 'link_address', p.src);
  sink.address(dir === 0 ? 'server' : 'client', 'link_address', p.dst);
}

function iec104(pdu: PduBase, _dir: Dir, sink: IdentitySink): void {
  const p = pdu as Iec104Pdu;
  // The common address names the controlled station's ASDU address, whichever way it travels.
  if (p.hasAsdu) sink.address('server', 'common_address', p.ca);
}

function opcua(pdu: PduBase, _dir: Dir, sink: IdentitySink): void {
  const p = pdu as OpcuaPdu;
  if (p.endpoint !== undefined && p.endpoint !== '') sink.address('server', 'endpoint_url', p.endpoint);
  if (p.policy !== undefined && p.policy !== '') sink.address('server', 'security_policy', p.policy);
}

const BY_NAME: Record<string, IdentifyFn> = { modbus, dnp3, iec104, opcua };

export function fallbackIdentify(d: Dissector): IdentifyFn | null {
  return BY_NAME[d.name] ?? null;
}
