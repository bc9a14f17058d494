/**
 * TLS fronts for the handshake tests: real Node TLS servers on 127.0.0.1 that present a chosen
 * certificate from the test PKI and pipe to a plain MongoDB-compatible port, so the driver's real
 * handshake meets each broken-server case (expired, wrong host, revoked, unknown CA, client
 * certificate demanded, old protocol versions, no shared cipher).
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type SecureVersion } from 'node:tls';
import { pkiDir } from '../../src/devserver/ferretdb';

export interface Front {
  readonly port: number;
  /** A connection string for this front: TLS on, host `localhost` unless told otherwise. */
  uri(host?: string): string;
  close(): Promise<void>;
}

export interface TlsFrontOptions {
  /** Base name in the test PKI: 'server', 'server-expired', 'server-wronghost', 'server-revoked', 'server-otherca'. */
  readonly certificate: string;
  /** The plain port to forward decrypted traffic to (on 127.0.0.1). */
  readonly upstreamPort: number;
  /** Demand a client certificate signed by the test CA, as mongod --tlsCAFile does. */
  readonly requireClientCertificate?: boolean;
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  readonly ciphers?: string;
}

export const pki = (file: string) => join(pkiDir, file);

export async function startTlsFront(options: TlsFrontOptions): Promise<Front> {
  const server = createTlsServer({
    cert: readFileSync(pki(`${options.certificate}.crt`)),
    key: readFileSync(pki(`${options.certificate}.key`)),
    ...(options.requireClientCertificate ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(pki('ca.pem')) } : {}),
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
  }, (client) => pipe(client, netConnect(options.upstreamPort, '127.0.0.1')));
  // Handshake failures are the point of most tests; the client side reports them.
  server.on('tlsClientError', () => undefined);
  return listen(server);
}

/**
 * Answers any ClientHello with a TLS 1.2 ServerHello that lacks the renegotiation_info extension,
 * as servers and proxies from before RFC 5746 (2010) do. Current OpenSSL refuses to go on
 * ("unsafe legacy renegotiation disabled"), which no Node TLS server can be made to provoke.
 */
export async function startLegacyRenegotiationServer(): Promise<Front> {
  const server = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      const ECDHE_RSA_AES128_GCM_SHA256 = [0xc0, 0x2f]; // offered by Node's default cipher list
      const body = Buffer.from([0x03, 0x03, ...Buffer.alloc(32, 0x5a), 0x00, ...ECDHE_RSA_AES128_GCM_SHA256, 0x00]);
      const handshake = Buffer.from([0x02, 0x00, 0x00, body.length, ...body]);
      socket.end(Buffer.from([0x16, 0x03, 0x03, 0x00, handshake.length, ...handshake]));
    });
  });
  return listen(server);
}

/** A server that speaks no TLS: it sends `reply` (nothing: it just hangs up) and closes. */
export async function startPlainTextServer(reply: string): Promise<Front> {
  const server = createNetServer((socket) => {
    socket.on('error', () => undefined);
    if (reply === '') socket.destroy();
    else socket.once('data', () => socket.end(reply));
  });
  return listen(server);
}

function pipe(a: Socket, b: Socket): void {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b).pipe(a);
}

async function listen(server: Server): Promise<Front> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  // tls.Server emits 'connection' for the raw sockets too; destroying those ends everything.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port,
    uri: (host = 'localhost') => `mongodb://${host}:${port}/?tls=true`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
