// OPC UA service message type ids: the numeric ns=0 NodeIds of the
// <Service>Request/Response "Encoding_DefaultBinary" objects that prefix every
// service message body (OPC 10000-6 5.2.9, ids from OPC 10000-6 A.3).
// Taken from OPCFoundation/UA-Nodeset Schema/NodeIds.csv (commit a2d4ae8b,
// 2024-10-18): every `*Request_Encoding_DefaultBinary` and
// `*Response_Encoding_DefaultBinary` entry that belongs to a Part 4 service
// (CallMethodRequest, MonitoredItemCreateRequest and MonitoredItemModifyRequest
// are structure encodings, not services, and are left out), plus ServiceFault.
import { CONFIG, CONTROL, OTHER, READ, SESSION, WRITE } from '../module.js';

/** Part 4 services: [request id, response id, class, name]. The class is in
 *  the shared vocabulary of function classes (module.ts). */
const SERVICES: ReadonlyArray<readonly [req: number, resp: number, cls: number, name: string]> = [
  [422, 425, SESSION, 'FindServers'],
  [12208, 12209, SESSION, 'FindServersOnNetwork'],
  [428, 431, SESSION, 'GetEndpoints'],
  [437, 440, CONFIG, 'RegisterServer'],
  [12211, 12212, CONFIG, 'RegisterServer2'],
  [446, 449, SESSION, 'OpenSecureChannel'],
  [452, 455, SESSION, 'CloseSecureChannel'],
  [461, 464, SESSION, 'CreateSession'],
  [467, 470, SESSION, 'ActivateSession'],
  [473, 476, SESSION, 'CloseSession'],
  [479, 482, SESSION, 'Cancel'],
  [488, 491, CONFIG, 'AddNodes'],
  [494, 497, CONFIG, 'AddReferences'],
  [500, 503, CONFIG, 'DeleteNodes'],
  [506, 509, CONFIG, 'DeleteReferences'],
  [527, 530, READ, 'Browse'],
  [533, 536, READ, 'BrowseNext'],
  [554, 557, READ, 'TranslateBrowsePathsToNodeIds'],
  [560, 563, SESSION, 'RegisterNodes'],
  [566, 569, SESSION, 'UnregisterNodes'],
  [615, 618, READ, 'QueryFirst'],
  [621, 624, READ, 'QueryNext'],
  [631, 634, READ, 'Read'],
  [664, 667, READ, 'HistoryRead'],
  [673, 676, WRITE, 'Write'],
  [700, 703, WRITE, 'HistoryUpdate'],
  [712, 715, CONTROL, 'Call'],
  [751, 754, READ, 'CreateMonitoredItems'],
  [763, 766, READ, 'ModifyMonitoredItems'],
  [769, 772, READ, 'SetMonitoringMode'],
  [775, 778, READ, 'SetTriggering'],
  [781, 784, READ, 'DeleteMonitoredItems'],
  [787, 790, READ, 'CreateSubscription'],
  [793, 796, READ, 'ModifySubscription'],
  [799, 802, READ, 'SetPublishingMode'],
  [826, 829, READ, 'Publish'],
  [832, 835, READ, 'Republish'],
  [841, 844, READ, 'TransferSubscriptions'],
  [847, 850, READ, 'DeleteSubscriptions'],
];

/** Every service message type id: [id, class, name]; names end in Request or
 *  Response, except ServiceFault (sent by the server, class other). */
export const OPCUA_SERVICE_ROWS: ReadonlyArray<readonly [id: number, cls: number, name: string]> = [
  [397, OTHER, 'ServiceFault'],
  ...SERVICES.flatMap(([req, resp, cls, name]) => [[req, cls, `${name}Request`] as const, [resp, cls, `${name}Response`] as const]),
];

const NAMES = new Map<number, string>(OPCUA_SERVICE_ROWS.map(([id, , n]) => [id, n]));
const ROLES = new Map<number, 1 | 2>(OPCUA_SERVICE_ROWS.map(([id, , n]) => [id, n.endsWith('Request') ? 1 : 2]));

/** Name of a service message type id (numeric, namespace 0), or undefined. */
export function opcuaServiceName(id: number): string | undefined {
  return NAMES.get(id);
}

/** Which side sends a message of this type: 1 = client (request),
 *  2 = server (response or ServiceFault), 0 = not a known service id. */
export function opcuaServiceRole(id: number): 0 | 1 | 2 {
  return ROLES.get(id) ?? 0;
}

/** Number of known service message type ids (for bounds and tests). */
export const OPCUA_SERVICE_COUNT = NAMES.size;
