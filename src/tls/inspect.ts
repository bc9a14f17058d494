/**
 * Looks at the certificate a server presents, without trusting it, so a diagnosis can say which
 * CA issued it or until when it was valid. Used after a handshake has already failed; nothing is
 * sent over this connection.
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { ServerCertificateInfo } from './translate';

export async function inspectServerCertificate(host: string, port: number, timeoutMs = 2000): Promise<ServerCertificateInfo | undefined> {
  return new Promise((resolve) => {
    // Verification is off on purpose: the point is to see the certificate that failed it.
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const finish = (info?: ServerCertificateInfo) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(info);
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      if (!cert || !cert.subject) return finish();
      finish({
        subject: distinguishedName(cert.subject),
        issuer: distinguishedName(cert.issuer),
        validFrom: cert.valid_from,
        validTo: cert.valid_to,
        ...(cert.subjectaltname ? { subjectAltName: cert.subjectaltname } : {}),
      });
    });
    socket.once('error', () => finish());
  });
}

function distinguishedName(parts: object): string {
  return Object.entries(parts as Record<string, string | string[]>).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ');
}
