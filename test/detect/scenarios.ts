// Small networks for detection tests, built packet by packet with pcapgen.
//
// TRAIN is "normal": the baseline is learned from it. The other scenarios
// each add one kind of new fact; what they should raise is written next to
// them from what they send, not read back from the detector.
import type { Clock, Packet } from '../../tools/pcapgen/capture.js';
import {
  mbReadHoldingReq,
  mbReadHoldingResp,
  mbWriteMultipleReq,
  mbWriteMultipleResp,
  mbWriteSingle,
  modbusAdu,
} from '../../tools/pcapgen/ics.js';
import { clock, modbusExchange, modbusReads, refused, tcp, udp, unanswered, type Conv } from './helpers.js';

export const PLC = '10.0.0.20';
export const PLC2 = '10.0.0.21';
export const WEB = '10.0.0.30';
export const MASTER = '10.0.0.5';
export const HMI = '10.0.0.6';
export const SCANNER = '10.0.0.77';

const HTTP_REQ = Buffer.from('GET / HTTP/1.1\r\nHost: plc\r\n\r\n');
const HTTP_RESP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

export const read = (tid: number, addr = 0) => modbusAdu(tid, 1, mbReadHoldingReq(addr, 2));
export const readResp = (tid: number) => modbusAdu(tid, 1, mbReadHoldingResp([1, 2]));
export const write6 = (tid: number) => modbusAdu(tid, 1, mbWriteSingle(7, 99));
export const write16Req = (tid: number) => modbusAdu(tid, 1, mbWriteMultipleReq(10, [1, 2]));
export const write16Resp = (tid: number) => modbusAdu(tid, 1, mbWriteMultipleResp(10, 2));

/** HTTP request and response over a fresh connection. */
export function http(c: Clock, v: Conv): Packet[] {
  return tcp(c, v).handshake().send('c2s', HTTP_REQ).send('s2c', HTTP_RESP).close('c2s').frames();
}

/** Handshake and close, no data. */
export function handshakeOnly(c: Clock, v: Conv): Packet[] {
  return tcp(c, v).handshake().close('c2s').frames();
}

/** One source's SYNs to `ports` of one host; the ports in `open` answer SYN-ACK, the rest RST. */
export function synScan(c: Clock, src: string, host: string, ports: number[], open: number[] = [], cport0 = 50000): Packet[] {
  const out: Packet[] = [];
  ports.forEach((port, i) => {
    const v = { client: src, server: host, cport: cport0 + i, sport: port };
    if (open.includes(port)) {
      const s = tcp(c, v).send('c2s', Buffer.alloc(0), { flags: 'S', noAdvance: true, seqOffset: -1 });
      out.push(...s.send('s2c', Buffer.alloc(0), { flags: 'SA', noAdvance: true, seqOffset: -1 }).rst('c2s', 'R').frames());
    } else out.push(...refused(c, v));
  });
  return out;
}

/**
 * The normal network (about 1 s of traffic from T0):
 *  - MASTER polls PLC:502 with FC 3 reads;
 *  - HMI reads PLC:502 and writes FC 6;
 *  - MASTER opens and closes a connection to PLC2:5020 (a listener with no data seen);
 *  - an HTTP client 10.0.0.7 fetches a page from WEB:80;
 *  - MASTER polls 25 RTUs 10.0.2.1-25:502 within a second (a sweep by
 *    count, but each RTU becomes its known endpoint: not a scanner);
 *  - SCANNER, an inventory tool, SYNs 30 ports of 10.0.0.40, all refused
 *    (a scanner the baseline knows).
 */
export function train(c = clock()): Packet[] {
  const out: Packet[] = [];
  out.push(...modbusReads(c, { client: MASTER, server: PLC, cport: 40000, sport: 502 }, 3));
  out.push(
    ...modbusExchange(c, { client: HMI, server: PLC, cport: 40100, sport: 502 }, [
      [read(1), readResp(1)],
      [write6(2), write6(2)],
    ]),
  );
  out.push(...handshakeOnly(c, { client: MASTER, server: PLC2, cport: 40200, sport: 5020 }));
  out.push(...http(c, { client: '10.0.0.7', server: WEB, cport: 40300, sport: 80 }));
  for (let i = 1; i <= 25; i++) out.push(...modbusReads(c, { client: MASTER, server: `10.0.2.${i}`, cport: 41000 + i, sport: 502 }, 1));
  out.push(
    ...synScan(
      c,
      SCANNER,
      '10.0.0.40',
      Array.from({ length: 30 }, (_, i) => i + 1),
    ),
  );
  return out;
}

/** new_listener: PLC answers on 8080 (SYN-ACK + HTTP), and on UDP 161.
 *  Not listeners: a SYN to 8081 answered by RST, a SYN to 8082 unanswered,
 *  a UDP datagram to 162 with no reply. */
export function newListener(c: Clock): Packet[] {
  const v = (sport: number, cport: number) => ({ client: MASTER, server: PLC, cport, sport });
  return [
    ...http(c, v(8080, 42000)),
    ...refused(c, v(8081, 42001)),
    ...unanswered(c, v(8082, 42002)),
    ...udp(c, { client: MASTER, server: PLC, cport: 42003, sport: 161 })
      .send('c2s', Buffer.from('get'))
      .send('s2c', Buffer.from('resp'))
      .frames(),
    ...udp(c, { client: MASTER, server: PLC, cport: 42004, sport: 162 }).send('c2s', Buffer.from('trap')).frames(),
  ];
}

/** unexpected_protocol: Modbus by content on PLC2:5020 (a learned listener with
 *  no data so far: no new_listener); HTTP on PLC:20000 is new (new_listener
 *  too); Modbus on WEB:80 (learned as HTTP); HTTP on PLC:502 (learned as Modbus). */
export function unexpectedProtocol(c: Clock): Packet[] {
  return [
    ...modbusReads(c, { client: MASTER, server: PLC2, cport: 43000, sport: 5020 }, 2),
    ...http(c, { client: MASTER, server: PLC, cport: 43001, sport: 20000 }),
    ...modbusReads(c, { client: '10.0.0.7', server: WEB, cport: 43002, sport: 80 }, 2),
    ...http(c, { client: MASTER, server: PLC, cport: 43003, sport: 502 }),
  ];
}

/** new_function: MASTER (only ever read) writes FC 6 and FC 16, twice in two
 *  connections; HMI writes FC 6 as it always did (nothing); MASTER sends
 *  Diagnostics sub-function 1, Restart Communications Option (config). */
export function newFunction(c: Clock): Packet[] {
  const diagRestart = modbusAdu(9, 1, Buffer.of(8, 0, 1, 0, 0));
  const out: Packet[] = [];
  for (let k = 0; k < 2; k++) {
    out.push(
      ...modbusExchange(c, { client: MASTER, server: PLC, cport: 44000 + k, sport: 502 }, [
        [read(1), readResp(1)],
        [write6(2), write6(2)],
        [write16Req(3), write16Resp(3)],
      ]),
    );
  }
  out.push(...modbusExchange(c, { client: HMI, server: PLC, cport: 44010, sport: 502 }, [[write6(1), write6(1)]]));
  out.push(...modbusExchange(c, { client: MASTER, server: PLC, cport: 44020, sport: 502 }, [[diagRestart, diagRestart]]));
  return out;
}

/** new_talker: 10.0.0.9 reads PLC:502 (new_talker only: reads of a new
 *  talker add nothing); 10.0.0.10 writes FC 16 (new_talker + new_function);
 *  198.51.100.7, a spoofed address, answers the PLC's SYN-ACK with RST after
 *  a SYN (a SYN flood): not a talker. */
export function newTalker(c: Clock): Packet[] {
  const spoof = tcp(c, { client: '198.51.100.7', server: PLC, cport: 45002, sport: 502 })
    .send('c2s', Buffer.alloc(0), { flags: 'S', noAdvance: true, seqOffset: -1 })
    .send('s2c', Buffer.alloc(0), { flags: 'SA', noAdvance: true, seqOffset: -1 })
    .rst('c2s', 'RA');
  return [
    ...modbusReads(c, { client: '10.0.0.9', server: PLC, cport: 45000, sport: 502 }, 2),
    ...modbusExchange(c, { client: '10.0.0.10', server: PLC, cport: 45001, sport: 502 }, [[write16Req(1), write16Resp(1)]]),
    ...spoof.frames(),
  ];
}

/** scan: 10.0.0.66 SYNs ports 1-25 of PLC (22 answers SYN-ACK, the rest RST):
 *  the 21st distinct port crosses the threshold of 20, ports 22-25 are 4
 *  repeats. 10.0.0.67 SYNs port 502 of 10.0.1.1-30, unanswered: the 21st host
 *  crosses, 9 repeats. MASTER polls its 25 RTUs again (known endpoints: not
 *  a sweep) and SCANNER sweeps again (a known scanner). */
export function scan(c: Clock): Packet[] {
  const out: Packet[] = [];
  out.push(
    ...synScan(
      c,
      '10.0.0.66',
      PLC,
      Array.from({ length: 25 }, (_, i) => i + 1),
      [22],
    ),
  );
  for (let i = 1; i <= 30; i++) out.push(...unanswered(c, { client: '10.0.0.67', server: `10.0.1.${i}`, cport: 51000 + i, sport: 502 }));
  for (let i = 1; i <= 25; i++) out.push(...modbusReads(c, { client: MASTER, server: `10.0.2.${i}`, cport: 46000 + i, sport: 502 }, 1));
  out.push(
    ...synScan(
      c,
      SCANNER,
      '10.0.0.40',
      Array.from({ length: 30 }, (_, i) => i + 1),
      [],
      52000,
    ),
  );
  return out;
}
