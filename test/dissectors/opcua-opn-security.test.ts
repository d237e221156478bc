// Whether an OPN is encrypted comes from its asymmetric security header, not
// from the policy URI alone (issue 12 §4; OPC 10000-6 6.7.2.3): the receiver
// certificate thumbprint "shall be null if the Message is not encrypted".
import { describe, expect, it } from 'vitest';
import {
  TcpSession,
  toPcap,
  uaAck,
  uaHel,
  uaOpenSecureChannelRequest,
  uaOpenSecureChannelResponse,
  uaOpn,
} from '../../tools/pcapgen/index.js';
import { runEngine } from '../helpers/run.js';
import { tsharkFields, writeCapture } from '../helpers/built-capture.js';

const BASIC256SHA256 = 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256';
const BASIC128RSA15 = 'http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15';

function channel(policy: string, cert: Buffer | null, thumb: Buffer | null, ciphertext: boolean): Buffer {
  const s = new TcpSession({ client: '10.0.0.1', cport: 50000, server: '10.0.0.9', sport: 4840 });
  s.handshake();
  s.send('c2s', uaHel('opc.tcp://10.0.0.9:4840'));
  s.send('s2c', uaAck());
  const reqBody = ciphertext ? Buffer.alloc(96, 0xa5) : uaOpenSecureChannelRequest(1, 1);
  const respBody = ciphertext ? Buffer.alloc(96, 0x5a) : uaOpenSecureChannelResponse(1, 77);
  s.send('c2s', uaOpn(0, policy, cert, thumb, 51, 1, reqBody));
  s.send('s2c', uaOpn(77, policy, cert, thumb, 52, 1, respBody));
  s.fin('c2s').fin('s2c');
  return toPcap(s.frames());
}

describe('opcua: OPN security header', () => {
  it.each([
    ['Basic256Sha256', BASIC256SHA256, null],
    ['Basic128Rsa15', BASIC128RSA15, null],
    ['Basic256Sha256, signed (sender certificate), not encrypted', BASIC256SHA256, Buffer.alloc(40, 1)],
  ])('%s with a null receiver thumbprint: in clear, seq/req/service decoded as tshark does', async (name, policy, cert) => {
    const path = writeCapture(`opn-clear-${name.length}-${cert === null ? 0 : 1}.pcap`, channel(policy, cert, null, false));
    const r = await runEngine([path]);
    const opn = r.pdus.filter((p) => p.app === 'opcua' && p.opcua.msg === 'OPN').map((p) => p.opcua);
    expect(opn).toHaveLength(2);
    expect(opn[0]).toMatchObject({
      channel: 0,
      policy,
      encrypted: false,
      seq: 51,
      req: 1,
      service: 446,
      service_name: 'OpenSecureChannelRequest',
    });
    expect(opn[1]).toMatchObject({
      channel: 77,
      policy,
      encrypted: false,
      seq: 52,
      req: 1,
      service: 449,
      service_name: 'OpenSecureChannelResponse',
    });
    const t = tsharkFields(path, 'opcua.transport.type == "OPN"', [
      'opcua.transport.scid',
      'opcua.security.spu',
      'opcua.security.seq',
      'opcua.security.rqid',
      'opcua.servicenodeid.numeric',
    ]);
    expect(opn.map((o) => [o.channel, o.policy, o.seq, o.req, o.service].map(String))).toEqual(t);
  });

  it('with a receiver thumbprint the OPN is encrypted: only the security header is decoded', async () => {
    const path = writeCapture('opn-encrypted.pcap', channel(BASIC256SHA256, Buffer.alloc(40, 1), Buffer.alloc(20, 2), true));
    const r = await runEngine([path]);
    const opn = r.pdus.filter((p) => p.app === 'opcua' && p.opcua.msg === 'OPN').map((p) => p.opcua);
    expect(opn).toEqual([
      { msg: 'OPN', chunk: 'F', size: opn[0].size, channel: 0, policy: BASIC256SHA256, encrypted: true },
      { msg: 'OPN', chunk: 'F', size: opn[1].size, channel: 77, policy: BASIC256SHA256, encrypted: true },
    ]);
    // tshark decodes the same security header.
    const t = tsharkFields(path, 'opcua.transport.type == "OPN"', ['opcua.transport.scid', 'opcua.security.spu', 'opcua.security.rcthumb']);
    expect(t.map((x) => [x[0], x[1], x[2] !== ''])).toEqual([
      ['0', BASIC256SHA256, true],
      ['77', BASIC256SHA256, true],
    ]);
  });
});
