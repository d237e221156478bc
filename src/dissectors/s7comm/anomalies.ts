// The closed set of anomaly names the S7comm parser reports (ctx.anomaly).
export const S7_ANOMALIES = [
  /** TPKT version != 3, reserved != 0, or length < 7 (framing lost: resync). */
  'invalid_tpkt',
  /** COTP length indicator that does not fit its TPKT, or an unknown TPDU type. */
  'invalid_cotp',
  /** A DT payload that is neither S7comm (0x32) nor S7comm-plus (0x72). */
  'unknown_payload',
  /** S7 header with a ROSCTR other than 1, 2, 3, 7. */
  'invalid_rosctr',
  /** S7 header + parameter + data lengths disagree with the COTP payload, or a
   *  parameter block too short for its function. */
  'invalid_length',
  /** A TPKT (or a reassembled S7 PDU) larger than the PDU size negotiated by
   *  setup communication. */
  'exceeds_pdu_size',
  /** COTP DT fragments (no EOT) adding up to more than 65 535 bytes: dropped. */
  'reassembly_overflow',
  /** S7comm-plus header whose data length runs past the COTP payload. */
  'invalid_plus_length',
] as const;

export type S7Anomaly = (typeof S7_ANOMALIES)[number];
