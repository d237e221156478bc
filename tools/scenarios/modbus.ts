// Modbus/TCP capture scenarios for end-to-end tests of the stream layer and
// the Modbus dissector: each function returns a pcap and the Modbus PDUs a
// correct pipeline emits from it, in emission order (packet order, and
// stream order within a direction).
//
// The expected lists are declared by hand from what each scenario sends; they
// are not read back from our own decoder. `anomalies` lists what the Modbus
// dissector itself should report (names from ModbusAnomaly), assuming the
// stream layer reassembles TCP, drops retransmitted bytes, tells the
// dissector about gaps and resynchronises with `probe` after them; anomalies
// of the stream layer itself (gaps, retransmissions...) are not listed.
import { toPcap } from '../pcapgen/capture.js';
import {
  mbException,
  mbReadHoldingReq,
  mbReadHoldingResp,
  mbWriteMultipleReq,
  mbWriteMultipleResp,
  mbWriteSingle,
  modbusAdu,
} from '../pcapgen/ics.js';
import { TcpSession, type Dir } from '../pcapgen/tcp-session.js';
import { mulberry32 as prng } from '../prng.js';

export interface ExpectedModbusPdu {
  dir: Dir; // 'c2s' | 's2c', relative to the real client (the Modbus master)
  tid: number;
  unit: number;
  fc: number; // exception bit cleared
  exception: number | null;
}

export interface ModbusScenario {
  name: string;
  about: string;
  pcap: Buffer;
  pdus: ExpectedModbusPdu[];
  /** Anomalies the Modbus dissector reports (see the header comment). */
  anomalies: string[];
}

const T0 = 1_700_000_000;
const CLIENT = '192.168.10.5';
const SERVER = '192.168.10.20';

const pdu = (dir: Dir, tid: number, unit: number, fc: number, exception: number | null = null): ExpectedModbusPdu => ({
  dir,
  tid,
  unit,
  fc,
  exception,
});

// ADUs used throughout (unit 1 unless said otherwise).
const rdReq = (tid: number, addr = 0, qty = 2, unit = 1) => modbusAdu(tid, unit, mbReadHoldingReq(addr, qty));
const rdResp = (tid: number, values = [0x1234, 0x5678], unit = 1) => modbusAdu(tid, unit, mbReadHoldingResp(values));

function session(sport = 502, cport = 49500, isn?: [number, number]): TcpSession {
  return new TcpSession({ client: CLIENT, server: SERVER, cport, sport, start: T0, isn });
}

/** Two pipelined requests in one segment, both responses in one segment. */
export function twoAdusInOneSegment(): ModbusScenario {
  const s = session().handshake();
  s.send('c2s', Buffer.concat([rdReq(1, 0, 2), rdReq(2, 100, 1)]));
  s.send('s2c', Buffer.concat([rdResp(1), rdResp(2, [7])]));
  s.close('c2s');
  return {
    name: 'two-adus-one-segment',
    about: 'FC 3 tid 1 and tid 2 in one client segment (24 bytes); both responses in one server segment.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 3), pdu('c2s', 2, 1, 3), pdu('s2c', 1, 1, 3), pdu('s2c', 2, 1, 3)],
    anomalies: [],
  };
}

/** One ADU in 2 segments each way; the first request piece is 5 bytes (< the 8 of a minimal ADU). */
export function splitInTwo(): ModbusScenario {
  const s = session().handshake();
  const req = modbusAdu(1, 1, mbWriteMultipleReq(40, [1, 2, 3])); // 7 + 1+4+1+6 = 19 bytes
  s.split('c2s', req, [5]); // 5 + 14: the length field is not even complete
  s.split('s2c', modbusAdu(1, 1, mbWriteMultipleResp(40, 3)), [7]); // 7 + 5: cut after the unit id
  s.send('c2s', rdReq(2)).send('s2c', rdResp(2));
  s.close('c2s');
  return {
    name: 'split-in-two',
    about: 'FC 16 request (19 bytes) cut 5+14 and its response (12 bytes) cut 7+5; then an unsplit FC 3 exchange.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 16), pdu('s2c', 1, 1, 16), pdu('c2s', 2, 1, 3), pdu('s2c', 2, 1, 3)],
    anomalies: [],
  };
}

/** One ADU in 3 segments each way, the first request piece 3 bytes. */
export function splitInThree(): ModbusScenario {
  const s = session().handshake();
  s.split('c2s', rdReq(1, 0, 10), [3, 9]); // 3 + 6 + 3 of 12
  const values = Array.from({ length: 10 }, (_, i) => 100 + i);
  s.split('s2c', rdResp(1, values), [1, 20]); // 1 + 19 + 9 of 29
  s.send('c2s', rdReq(2)).send('s2c', rdResp(2));
  s.close('c2s');
  return {
    name: 'split-in-three',
    about: 'FC 3 request (12 bytes) cut 3+6+3, its 10-register response (29 bytes) cut 1+19+9; then an unsplit exchange.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 3), pdu('s2c', 1, 1, 3), pdu('c2s', 2, 1, 3), pdu('s2c', 2, 1, 3)],
    anomalies: [],
  };
}

/** A request segment sent twice (same sequence number), and a retransmitted response. */
export function retransmission(): ModbusScenario {
  const s = session().handshake();
  s.send('c2s', rdReq(1)).retransmit('c2s');
  s.send('s2c', rdResp(1)).retransmit('s2c');
  s.send('c2s', rdReq(2)).send('s2c', rdResp(2));
  s.close('c2s');
  return {
    name: 'retransmission',
    about: 'FC 3 tid 1 request and response each captured twice (TCP retransmission); tid 2 once. Each ADU is decoded once.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 3), pdu('s2c', 1, 1, 3), pdu('c2s', 2, 1, 3), pdu('s2c', 2, 1, 3)],
    anomalies: [],
  };
}

/** Three pipelined requests in three segments captured in the order 0, 2, 1. */
export function outOfOrder(): ModbusScenario {
  const s = session().handshake();
  s.reorder('c2s', [rdReq(1, 0), rdReq(2, 10), rdReq(3, 20)], [0, 2, 1]);
  // The second response arrives in two pieces, the later piece first.
  s.send('s2c', rdResp(1));
  s.segments('s2c', rdResp(2, [1, 2]), [6], { order: [1, 0] });
  s.send('s2c', rdResp(3, [3, 4]));
  s.close('c2s');
  return {
    name: 'out-of-order',
    about:
      'Requests tid 1, 2, 3 (FC 3) in three segments captured as 1, 3, 2; the tid 2 response cut at 6 with its second half captured first.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 3), pdu('c2s', 2, 1, 3), pdu('c2s', 3, 1, 3), pdu('s2c', 1, 1, 3), pdu('s2c', 2, 1, 3), pdu('s2c', 3, 1, 3)],
    anomalies: [],
  };
}

/**
 * A client segment missing from the capture: it held request tid 2 and the
 * first 5 bytes of tid 3. The next segment starts 5 bytes into tid 3, so the
 * stream layer must skip its tail and find tid 4 with probe. The server saw
 * everything and answers 2, 3 and 4; the first two have no visible request
 * (quiet: the gap puts the dissector out of sync).
 */
export function lostSegment(): ModbusScenario {
  const s = session().handshake();
  s.send('c2s', rdReq(1)).send('s2c', rdResp(1));
  const lost = Buffer.concat([rdReq(2, 50, 4), rdReq(3, 60, 4)]);
  s.lose('c2s', lost.subarray(0, 12 + 5));
  s.send('c2s', Buffer.concat([lost.subarray(12 + 5), rdReq(4, 70, 4)]));
  s.send('s2c', rdResp(2, [1, 2, 3, 4]))
    .send('s2c', rdResp(3, [5, 6, 7, 8]))
    .send('s2c', rdResp(4, [9, 10, 11, 12]));
  s.send('c2s', rdReq(5)).send('s2c', rdResp(5));
  s.close('c2s');
  return {
    name: 'lost-segment',
    about:
      'Client bytes 13-29 of the data (request tid 2 and 5 bytes of tid 3) never captured; the next segment is the 7-byte tail of tid 3 then tid 4.',
    pcap: toPcap(s.frames()),
    pdus: [
      pdu('c2s', 1, 1, 3),
      pdu('s2c', 1, 1, 3),
      pdu('c2s', 4, 1, 3),
      pdu('s2c', 2, 1, 3),
      pdu('s2c', 3, 1, 3),
      pdu('s2c', 4, 1, 3),
      pdu('c2s', 5, 1, 3),
      pdu('s2c', 5, 1, 3),
    ],
    anomalies: [],
  };
}

/**
 * No handshake: the capture starts with a client segment that begins 4 bytes
 * into request tid 7 (a FC 16 write) and then holds request tid 8.
 */
export function midConnection(): ModbusScenario {
  const s = session(502, 49500, [0x10000000, 0x20000000]);
  const req7 = modbusAdu(7, 1, mbWriteMultipleReq(300, [0xaaaa, 0xbbbb]));
  s.lose('c2s', 4);
  s.send('c2s', Buffer.concat([req7.subarray(4), rdReq(8, 10, 2)]));
  s.send('s2c', modbusAdu(7, 1, mbWriteMultipleResp(300, 2)));
  s.send('s2c', rdResp(8));
  s.send('c2s', rdReq(9)).send('s2c', rdResp(9));
  return {
    name: 'mid-connection',
    about:
      'Capture starts mid-connection (no SYN); the first client segment starts 4 bytes into a FC 16 request (tid 7) and then carries FC 3 tid 8.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 8, 1, 3), pdu('s2c', 7, 1, 16), pdu('s2c', 8, 1, 3), pdu('c2s', 9, 1, 3), pdu('s2c', 9, 1, 3)],
    anomalies: [],
  };
}

/**
 * No handshake and no well-known port: the server listens on 15020 and the
 * client uses port 1502, so port heuristics ("lower port is the server")
 * get the roles backwards. The first PDU is a FC 3 request, which only a
 * client sends: probe answers MatchReversed and the roles are swapped.
 */
export function rolesFromContent(): ModbusScenario {
  const s = new TcpSession({ client: CLIENT, server: SERVER, cport: 1502, sport: 15020, start: T0, isn: [0x300, 0x900] });
  s.send('c2s', rdReq(1, 0, 4)).send('s2c', rdResp(1, [1, 2, 3, 4]));
  s.send('c2s', rdReq(2, 0, 4)).send('s2c', modbusAdu(2, 1, mbException(0x03, 0x04)));
  return {
    name: 'roles-from-content',
    about: 'Modbus server on 15020, client on 1502, no SYN: roles come from the content (FC 3 request first, then its response).',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 1, 3), pdu('s2c', 1, 1, 3), pdu('c2s', 2, 1, 3), pdu('s2c', 2, 1, 3, 4)],
    anomalies: [],
  };
}

/** Modbus on the non-standard port 5020, found by content. */
export function port5020(): ModbusScenario {
  const s = session(5020).handshake();
  s.send('c2s', rdReq(1, 0, 2, 3)).send('s2c', rdResp(1, [1, 2], 3));
  const w = modbusAdu(2, 3, mbWriteSingle(7, 0x0102));
  s.send('c2s', w).send('s2c', w);
  s.send('c2s', modbusAdu(3, 3, mbWriteMultipleReq(10, [5, 6]))).send('s2c', modbusAdu(3, 3, mbWriteMultipleResp(10, 2)));
  s.close('c2s');
  return {
    name: 'port-5020',
    about: 'Unit 3 on TCP port 5020: FC 3, FC 6 (echoed), FC 16.',
    pcap: toPcap(s.frames()),
    pdus: [pdu('c2s', 1, 3, 3), pdu('s2c', 1, 3, 3), pdu('c2s', 2, 3, 6), pdu('s2c', 2, 3, 6), pdu('c2s', 3, 3, 16), pdu('s2c', 3, 3, 16)],
    anomalies: [],
  };
}

/** Random bytes both ways on port 502: nothing is Modbus. */
export function randomBytesOn502(): ModbusScenario {
  const rnd = prng(502);
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
    return b;
  };
  const s = session().handshake();
  for (let k = 0; k < 4; k++) s.send('c2s', bytes(100 + 37 * k)).send('s2c', bytes(60 + 53 * k));
  s.close('c2s');
  return {
    name: 'random-bytes-502',
    about: 'Handshake to port 502, then 4 random segments each way (seeded PRNG 502, 60-300 bytes): no Modbus PDU.',
    pcap: toPcap(s.frames()),
    pdus: [],
    anomalies: [],
  };
}

/** Requests answered with exception responses (codes 1, 2, 3, 4, 11). */
export function exceptionResponses(): ModbusScenario {
  const s = session().handshake();
  s.send('c2s', rdReq(1, 9000, 2)).send('s2c', modbusAdu(1, 1, mbException(0x03, 0x02)));
  s.send('c2s', modbusAdu(2, 1, mbWriteMultipleReq(0, [1]))).send('s2c', modbusAdu(2, 1, mbException(0x10, 0x03)));
  const w = modbusAdu(3, 2, mbWriteSingle(1, 5));
  s.send('c2s', w).send('s2c', modbusAdu(3, 2, mbException(0x06, 0x04)));
  s.send('c2s', modbusAdu(4, 1, Buffer.of(0x14, 0x00))).send('s2c', modbusAdu(4, 1, mbException(0x14, 0x01)));
  s.send('c2s', rdReq(5, 0, 1, 9)).send('s2c', modbusAdu(5, 9, mbException(0x03, 0x0b)));
  s.send('c2s', rdReq(6)).send('s2c', rdResp(6));
  s.close('c2s');
  return {
    name: 'exception-responses',
    about:
      'FC 3 -> 0x83/2, FC 16 -> 0x90/3, FC 6 (unit 2) -> 0x86/4, FC 20 -> 0x94/1, FC 3 unit 9 -> 0x83/11 (gateway target failed), then a normal FC 3.',
    pcap: toPcap(s.frames()),
    pdus: [
      pdu('c2s', 1, 1, 3),
      pdu('s2c', 1, 1, 3, 2),
      pdu('c2s', 2, 1, 16),
      pdu('s2c', 2, 1, 16, 3),
      pdu('c2s', 3, 2, 6),
      pdu('s2c', 3, 2, 6, 4),
      pdu('c2s', 4, 1, 20),
      pdu('s2c', 4, 1, 20, 1),
      pdu('c2s', 5, 9, 3),
      pdu('s2c', 5, 9, 3, 11),
      pdu('c2s', 6, 1, 3),
      pdu('s2c', 6, 1, 3),
    ],
    anomalies: [],
  };
}

/** Every scenario, for table-driven tests. */
export const MODBUS_SCENARIOS: readonly (() => ModbusScenario)[] = [
  twoAdusInOneSegment,
  splitInTwo,
  splitInThree,
  retransmission,
  outOfOrder,
  lostSegment,
  midConnection,
  rolesFromContent,
  port5020,
  randomBytesOn502,
  exceptionResponses,
];
