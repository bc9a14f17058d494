/**
 * Finds out, in one round trip, what listens at the server's address, so that the three common
 * mistakes fail at once with their own message instead of after the driver's whole
 * server-selection timeout (30 s by default): nothing listening, TLS on against a port that
 * speaks plain MongoDB, and TLS off against a port that speaks TLS.
 *
 * The probe sends a plaintext `hello` as an OP_MSG (MongoDB Wire Protocol, "OP_MSG"): a plain
 * MongoDB port answers with an OP_MSG; a TLS port cannot parse it and closes the connection or
 * answers with a TLS alert record (RFC 8446, section 6), which a TLS handshake then confirms.
 */
import { BSON } from 'mongodb';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ConfigError, TlsError, type StrongboxError } from '../errors';

export interface Address { readonly host: string; readonly port: number; }

/** The hosts of a `mongodb://` connection string; none for SRV, whose hosts come from DNS. */
export function addresses(uri: string): Address[] {
  const m = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/i.exec(uri);
  if (!m) return [];
  return m[1]!.split(',').flatMap((hostAndPort) => {
    const hostPort = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostAndPort) ?? /^([^:]+)(?::(\d+))?$/.exec(hostAndPort);
    return hostPort ? [{ host: hostPort[1]!, port: Number(hostPort[2] ?? 27017) }] : [];
  });
}

/** The host when there is exactly one: with several, one host's answer proves nothing about the others. */
export function singleAddress(uri: string): Address | undefined {
  const all = addresses(uri);
  return all.length === 1 ? all[0] : undefined;
}

type Listener = 'refused' | 'unresolvable' | 'plain-mongodb' | 'tls' | 'unknown';

const OP_MSG = 2013;

function helloMessage(): Buffer {
  const body = BSON.serialize({ hello: 1, $db: 'admin' });
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(1, 4);         // requestID
  header.writeInt32LE(0, 8);         // responseTo
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16);       // flagBits
  header.writeUInt8(0, 20);          // section kind 0: the body document
  return Buffer.concat([header, Buffer.from(body)]);
}

/** Sends the plaintext hello and classifies the answer. */
function askPlain(address: Address, timeoutMs: number): Promise<Listener | 'closed'> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    const socket: Socket = tcpConnect({ host: address.host, port: address.port });
    const finish = (answer: Listener | 'closed') => { socket.destroy(); clearTimeout(timer); resolve(answer); };
    const timer = setTimeout(() => finish('unknown'), timeoutMs);
    socket.once('connect', () => socket.write(helloMessage()));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received[0] === 0x15 || received[0] === 0x16) finish('tls');           // a TLS alert or handshake record
      else if (received.length >= 16) finish(received.readInt32LE(12) === OP_MSG ? 'plain-mongodb' : 'unknown');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish('refused');
      else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') finish('unresolvable');
      else finish('closed');
    });
    socket.once('close', () => finish(received.length ? 'unknown' : 'closed'));
  });
}

/** Whether the port completes (or answers with an alert) a TLS handshake; certificates are not judged here. */
function speaksTls(address: Address, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: address.host, port: address.port, rejectUnauthorized: false, servername: /^[\d.]+$|:/.test(address.host) ? undefined : address.host });
    const finish = (answer: boolean) => { socket.destroy(); clearTimeout(timer); resolve(answer); };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => finish(true));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(typeof err.code === 'string' && err.code.startsWith('ERR_SSL_') && !/WRONG_VERSION_NUMBER/.test(err.code)));
  });
}

export async function probeListener(address: Address, timeoutMs = 2000): Promise<Listener> {
  const plain = await askPlain(address, timeoutMs);
  if (plain !== 'closed') return plain;
  return (await speaksTls(address, timeoutMs)) ? 'tls' : 'unknown';
}

/**
 * A StrongboxError when the listener at `address` cannot work with the client's TLS setting;
 * undefined when it may work (or the probe could not tell), leaving the verdict to the driver.
 */
export async function diagnoseListener(address: Address, tlsOn: boolean, what: string, timeoutMs?: number): Promise<StrongboxError | undefined> {
  const where = `${address.host}:${address.port}`;
  const listener = await probeListener(address, timeoutMs);
  switch (listener) {
    case 'refused':
      return new ConfigError('CONNECT_FAILED', `Nothing is listening on ${where} (ECONNREFUSED: connection refused), so ${what} is down or the port is wrong.`, {
        fix: `start the server (for development: 'npx strongbox server'), or correct the host and port in the connection string.`,
      });
    case 'unresolvable':
      return new ConfigError('CONNECT_FAILED', `The host name ${address.host} of ${what} does not resolve.`, { fix: 'correct the host in the connection string, or check DNS.' });
    case 'plain-mongodb':
      return tlsOn
        ? new TlsError('TLS_SERVER_NOT_TLS', `TLS is on, but ${where} answers plain MongoDB without TLS, so the TLS handshake with ${what} can never succeed.`, {
          fix: "connect to the server's TLS port, or enable TLS on the server (net.tls.mode requireTLS); turn TLS off (tls: { enabled: false }, no tls=true) only for a development server on 127.0.0.1.",
        })
        : undefined;
    case 'tls':
      return tlsOn
        ? undefined
        : new TlsError('TLS_SERVER_REQUIRES_TLS', `TLS is off, but ${where} speaks TLS, so ${what} closes every plain connection.`, {
          fix: "turn TLS on: tls=true in the connection string or tls: { enabled: true, caFile: 'ca.pem' } (plus certificateKeyFile when the server asks for a client certificate).",
        });
    default:
      return undefined;
  }
}
