// OPC UA service message type ids: the numeric ns=0 NodeIds of the
// <Service>Request/Response "Encoding_DefaultBinary" objects that prefix every
// service message body (OPC 10000-6 5.2.9, ids from OPC 10000-6 A.3).
// Taken from OPCFoundation/UA-Nodeset Schema/NodeIds.csv (commit a2d4ae8b,
// 2024-10-18): every `*Request_Encoding_DefaultBinary` and
// `*Response_Encoding_DefaultBinary` entry that belongs to a Part 4 service
// (CallMethodRequest, MonitoredItemCreateRequest and MonitoredItemModifyRequest
// are structure encodings, not services, and are left out), plus ServiceFault.

/** [binary encoding node id, name]. Names end in Request or Response, except ServiceFault. */
const SERVICES: ReadonlyArray<readonly [number, string]> = [
  [397, 'ServiceFault'],
  [422, 'FindServersRequest'],
  [425, 'FindServersResponse'],
  [428, 'GetEndpointsRequest'],
  [431, 'GetEndpointsResponse'],
  [437, 'RegisterServerRequest'],
  [440, 'RegisterServerResponse'],
  [446, 'OpenSecureChannelRequest'],
  [449, 'OpenSecureChannelResponse'],
  [452, 'CloseSecureChannelRequest'],
  [455, 'CloseSecureChannelResponse'],
  [461, 'CreateSessionRequest'],
  [464, 'CreateSessionResponse'],
  [467, 'ActivateSessionRequest'],
  [470, 'ActivateSessionResponse'],
  [473, 'CloseSessionRequest'],
  [476, 'CloseSessionResponse'],
  [479, 'CancelRequest'],
  [482, 'CancelResponse'],
  [488, 'AddNodesRequest'],
  [491, 'AddNodesResponse'],
  [494, 'AddReferencesRequest'],
  [497, 'AddReferencesResponse'],
  [500, 'DeleteNodesRequest'],
  [503, 'DeleteNodesResponse'],
  [506, 'DeleteReferencesRequest'],
  [509, 'DeleteReferencesResponse'],
  [527, 'BrowseRequest'],
  [530, 'BrowseResponse'],
  [533, 'BrowseNextRequest'],
  [536, 'BrowseNextResponse'],
  [554, 'TranslateBrowsePathsToNodeIdsRequest'],
  [557, 'TranslateBrowsePathsToNodeIdsResponse'],
  [560, 'RegisterNodesRequest'],
  [563, 'RegisterNodesResponse'],
  [566, 'UnregisterNodesRequest'],
  [569, 'UnregisterNodesResponse'],
  [615, 'QueryFirstRequest'],
  [618, 'QueryFirstResponse'],
  [621, 'QueryNextRequest'],
  [624, 'QueryNextResponse'],
  [631, 'ReadRequest'],
  [634, 'ReadResponse'],
  [664, 'HistoryReadRequest'],
  [667, 'HistoryReadResponse'],
  [673, 'WriteRequest'],
  [676, 'WriteResponse'],
  [700, 'HistoryUpdateRequest'],
  [703, 'HistoryUpdateResponse'],
  [712, 'CallRequest'],
  [715, 'CallResponse'],
  [751, 'CreateMonitoredItemsRequest'],
  [754, 'CreateMonitoredItemsResponse'],
  [763, 'ModifyMonitoredItemsRequest'],
  [766, 'ModifyMonitoredItemsResponse'],
  [769, 'SetMonitoringModeRequest'],
  [772, 'SetMonitoringModeResponse'],
  [775, 'SetTriggeringRequest'],
  [778, 'SetTriggeringResponse'],
  [781, 'DeleteMonitoredItemsRequest'],
  [784, 'DeleteMonitoredItemsResponse'],
  [787, 'CreateSubscriptionRequest'],
  [790, 'CreateSubscriptionResponse'],
  [793, 'ModifySubscriptionRequest'],
  [796, 'ModifySubscriptionResponse'],
  [799, 'SetPublishingModeRequest'],
  [802, 'SetPublishingModeResponse'],
  [826, 'PublishRequest'],
  [829, 'PublishResponse'],
  [832, 'RepublishRequest'],
  [835, 'RepublishResponse'],
  [841, 'TransferSubscriptionsRequest'],
  [844, 'TransferSubscriptionsResponse'],
  [847, 'DeleteSubscriptionsRequest'],
  [850, 'DeleteSubscriptionsResponse'],
  [12208, 'FindServersOnNetworkRequest'],
  [12209, 'FindServersOnNetworkResponse'],
  [12211, 'RegisterServer2Request'],
  [12212, 'RegisterServer2Response'],
];

const NAMES = new Map<number, string>(SERVICES);
const ROLES = new Map<number, 1 | 2>(SERVICES.map(([id, n]) => [id, n.endsWith('Request') ? 1 : 2]));

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
