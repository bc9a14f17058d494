/**
 * `strongbox server`: the development database for an app, the same embedded server the tests and
 * the demo use, until Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLocalServer } from '../../devserver/ferretdb';
import { installDevTools } from '../../devserver/install';
import { resolveDevTools } from '../../devserver/tools';
import { numberFlag, stringFlag } from './flags';
import type { Command, CommandContext } from './command';

const HELP = `Usage: strongbox server [--port N] [--tls-port N] [--data DIR]

Starts a development database on 127.0.0.1: FerretDB (MongoDB wire compatible) with a plain port
and a TLS port that requires the printed client certificate. The first run builds FerretDB with Go
and writes development certificates into the per-user cache (\$XDG_CACHE_HOME/strongbox or
~/.cache/strongbox; \$STRONGBOX_TOOLS_DIR overrides it). Stops on Ctrl-C.

  --port N, --tls-port N  fixed ports (default: free ones)
  --data DIR              keep the data in DIR (default: a temporary folder removed on stop)`;

/** Resolves when the process is asked to stop (Ctrl-C, or SIGTERM from a process manager). */
function stopRequested(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
    const handler = (signal: NodeJS.Signals) => { for (const s of signals) process.off(s, handler); res(signal); };
    for (const s of signals) process.on(s, handler);
  });
}

export const serverCommand: Command = {
  summary: 'start a development database (FerretDB over TLS on 127.0.0.1) until Ctrl-C',
  help: HELP,
  async run(context: CommandContext) {
    const port = numberFlag(context, 'port');
    const tlsPort = numberFlag(context, 'tls-port');
    const data = stringFlag(context, 'data');
    const dataDir = data === undefined ? undefined : resolve(data);
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const tools = resolveDevTools();
    installDevTools(tools, (line) => context.err(`strongbox server: ${line}`));
    const server = await startLocalServer({ tools, port, tlsPort, dataDir });
    const stop = stopRequested();
    context.out([
      `${server.description} is running on 127.0.0.1.`,
      '',
      `  TLS (use this):  ${server.tlsUri}`,
      `  CA file:         ${server.caFile}`,
      `  client cert+key: ${server.clientCertificateKeyFile}`,
      `  plain port:      ${server.uri}  (no TLS, for tools)`,
      `  data:            ${server.dataDir}${dataDir ? '' : ' (removed on stop)'}`,
      '',
      'In your configuration:',
      `  uri: '${server.tlsUri}',`,
      `  tls: { caFile: '${server.caFile}', certificateKeyFile: '${server.clientCertificateKeyFile}' },`,
      '',
      'Press Ctrl-C to stop.',
    ].join('\n'));
    // Signal handlers do not keep Node running, and the server's child process is unref'd.
    const keepAlive = setInterval(() => undefined, 60_000);
    const signal = await stop;
    clearInterval(keepAlive);
    await server.stop();
    context.out(`Stopped (${signal}).`);
    return 0;
  },
};
