// Certificates for the emulated HTTPS hosts (Entra, Graph, the agent's OIDC endpoint): a throwaway
// certificate authority and a server certificate it signs for 127.0.0.1, ::1 and localhost, made
// at test start with the `selfsigned` devDependency (no download, no openssl binary). The CA is
// written to a temporary folder so that a spawned task trusts it through NODE_EXTRA_CA_CERTS, and a
// test's own client trusts it through `ca`; certificate checks are never disabled.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generate } from 'selfsigned';

export interface TestCertificates {
  /** PEM of the certificate authority: what clients trust. */
  caPem: string;
  /** Path of caPem on disk: the value for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /** The server certificate (signed by the CA) and its private key, PEM: for https.createServer. */
  cert: string;
  key: string;
  /** The temporary folder holding the files. */
  dir: string;
  /** Removes the folder. */
  remove(): void;
}

const HOUR = 3_600_000;

/** Makes a CA and a server certificate valid from an hour ago for a day, and writes them to a new temporary folder. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const notBeforeDate = new Date(Date.now() - HOUR);
  const notAfterDate = new Date(Date.now() + 24 * HOUR);
  const common = { keyType: 'ec' as const, curve: 'P-256' as const, algorithm: 'sha256', notBeforeDate, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'ConvertToWif test CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-tls-'));
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, ca.cert);
  fs.writeFileSync(path.join(dir, 'server.pem'), server.cert);
  fs.writeFileSync(path.join(dir, 'server.key'), server.private, { mode: 0o600 });
  return {
    caPem: ca.cert,
    caFile,
    cert: server.cert,
    key: server.private,
    dir,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
