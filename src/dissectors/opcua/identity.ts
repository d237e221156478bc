// What OPC UA reveals about the endpoints: the endpoint URL the client asked
// for in Hello, the security policy of the secure channel and, when that is
// None, the mode None (messages in clear); and the ApplicationDescription of
// clear GetEndpoints/CreateSession messages (the client's or the server's).
import type { Dir } from '../types.js';
import type { IdentitySink } from '../module.js';
import { OPCUA_POLICY_NONE, opcuaIdentity, type OpcuaPdu } from './parser.js';

export function identifyOpcua(pdu: OpcuaPdu, _dir: Dir, sink: IdentitySink): void {
  if (pdu.endpoint !== undefined) sink.address('server', 'endpoint_url', pdu.endpoint);
  if (pdu.policy !== undefined) {
    sink.address('server', 'security_policy', pdu.policy);
    if (pdu.policy === OPCUA_POLICY_NONE) sink.address('server', 'security_mode', 'None');
  }
  if (pdu.idBuf === null) return;
  const id = opcuaIdentity(pdu);
  if (id === null) return;
  if (id.applicationUri !== null) sink.identity(id.role, 'application_uri', id.applicationUri);
  if (id.productUri !== null) sink.identity(id.role, 'product_uri', id.productUri);
  if (id.applicationName !== null) sink.identity(id.role, 'application_name', id.applicationName);
}
