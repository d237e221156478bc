// A throw-away PKI made with openssl at test time: a CA, a server
// certificate for "localhost" (no IP in it, so 127.0.0.1 is a wrong host
// name), client certificates by common name, an expired one, and a second CA
// that signed nothing the server knows.
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

export interface Pki {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  client(cn: string): { cert: string; key: string };
  expiredClient(cn: string): { cert: string; key: string };
}

/** `serverIps`: addresses the server certificate also names (for a broker in a test namespace). */
export function makePki(dir: string, serverIps: string[] = []): Pki {
  mkdirSync(dir, { recursive: true });
  const selfCa = (name: string) => {
    ssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '3',
      '-subj',
      `/CN=${name}`,
    ]);
    return join(dir, `${name}.pem`);
  };
  const ca = selfCa('test-ca');
  const otherCa = selfCa('other-ca');
  const issue = (name: string, cn: string, ext: string | null) => {
    ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    const args = [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'test-ca.pem',
      '-CAkey',
      'test-ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
    ];
    if (ext !== null) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      args.push('-extfile', `${name}.ext`);
    }
    ssl(dir, args);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const san = ['DNS:localhost', ...serverIps.map((ip) => `IP:${ip}`)].join(',');
  const server = issue('server', 'localhost', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  // For `openssl ca`, which alone can back-date a certificate.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca=tc',
      '[tc]',
      `dir=${dir}`,
      'database=$dir/index.txt',
      'serial=$dir/serial',
      'new_certs_dir=$dir',
      'certificate=$dir/test-ca.pem',
      'private_key=$dir/test-ca.key',
      'default_md=sha256',
      'policy=any',
      'unique_subject=no',
      '[any]',
      'commonName=supplied',
      '',
    ].join('\n'),
  );
  return {
    dir,
    ca,
    otherCa,
    serverCert: server.cert,
    serverKey: server.key,
    client: (cn) => issue(`client-${cn}`, cn, 'extendedKeyUsage=clientAuth\n'),
    expiredClient: (cn) => {
      const name = `expired-${cn}`;
      ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
      ssl(dir, [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200102000000Z',
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        '-notext',
      ]);
      return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    },
  };
}
