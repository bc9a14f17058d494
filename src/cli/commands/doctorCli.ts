import { resolveEnvironment } from '../../client/config';
import type { Command } from './command';
import { runDoctor } from './doctor';

export const doctorCliCommand: Command = {
  summary: 'check the configuration and the TLS handshake, one line per check; non-zero exit on failure',
  help: [
    'Usage: strongbox doctor [--config PATH] [--timeout MS]',
    '',
    'Validates the TLS options (files, certificate and key, passphrase, dates, conflicts,',
    'production rules), then connects and runs hello. Each check prints one line with the',
    'reason and the fix when it fails.',
  ].join('\n'),
  async run({ config, out, args }) {
    const loaded = await config();
    const timeout = args.flags.get('timeout');
    const ok = await runDoctor({
      uri: loaded.uri,
      tls: loaded.tls,
      environment: resolveEnvironment(loaded),
      ...(typeof timeout === 'string' ? { timeoutMS: Number(timeout) } : {}),
    }, out);
    return ok ? 0 : 1;
  },
};
