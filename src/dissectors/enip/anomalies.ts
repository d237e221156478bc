// The closed set of anomaly names the EtherNet/IP dissector reports.
export const ENIP_ANOMALIES = [
  /** Encapsulation length above 65 511 (the header and data must fit 65 535). Resync. */
  'invalid_length',
  /** Command not defined by the encapsulation spec (Vol. 2, 2-3.2). Resync. */
  'unknown_command',
  /** Options field non-zero: the spec says receivers discard the message. Resync. */
  'invalid_options',
  /** Common packet format items do not fit the message (count, item lengths). */
  'malformed_cpf',
  /** CIP message shorter than its header, or a request path or status that
   *  runs past the data item. */
  'malformed_cip',
  /** Multiple Service Packet whose count or offsets do not fit its data. */
  'malformed_msp',
  /** Unconnected Send whose embedded message size runs past its data. */
  'malformed_unconnected_send',
  /** ListIdentity reply whose identity item does not fit. */
  'malformed_identity',
  /** Implicit I/O: a sequenced-address sequence number lower than the last
   *  one of the same connection and direction (replay, or a second producer). */
  'io_sequence_backwards',
] as const;

export type EnipAnomaly = (typeof ENIP_ANOMALIES)[number];
