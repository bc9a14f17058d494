/**
 * `npm test` entry: starts the local server (unless MONGODB_URI names one), probes which server
 * features exist, runs ava against it, stops the server whatever happens, and ends with one
 * plain summary line ("tests: N passed, N failed, N skipped").
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { probeFeatures } from './features';
import { tlsFromEnv } from './env';
import { ResultTally } from './tally';

async function main(): Promise<number> {
  const started = Date.now();
  let local: LocalServer | undefined;
  let uri: string;
  let tls: object;
  let description: string;
  if (process.env.MONGODB_URI) {
    uri = process.env.MONGODB_URI;
    tls = tlsFromEnv();
    description = 'server from MONGODB_URI';
  } else {
    local = await startLocalServer();
    uri = local.tlsUri;
    tls = { enabled: true, caFile: local.caFile, certificateKeyFile: local.clientCertificateKeyFile };
    description = local.description;
  }
  try {
    const t = tls as { caFile?: string; certificateKeyFile?: string };
    const client = new MongoClient(uri, { tlsCAFile: t.caFile, tlsCertificateKeyFile: t.certificateKeyFile, serverSelectionTimeoutMS: 10_000 });
    let features;
    try {
      const info = await client.db('admin').command({ buildInfo: 1 });
      if (!local) description = `MongoDB ${info.version}${info.modules?.includes('enterprise') ? ' Enterprise' : ''} at MONGODB_URI`;
      features = await probeFeatures(client);
    } catch (err) {
      console.error(`tests: cannot reach the test server (${description}): ${(err as Error).message}`);
      console.log('tests: 0 passed, 1 failed');
      return 1;
    } finally {
      await client.close();
    }
    console.log(`tests: running against ${description}; features: ${features.join(', ') || 'none of the optional ones'}`);
    const env = {
      ...process.env,
      STRONGBOX_TEST_URI: uri,
      STRONGBOX_TEST_TLS: JSON.stringify(tls),
      STRONGBOX_TEST_SERVER: description,
      STRONGBOX_TEST_FEATURES: JSON.stringify(features),
    };
    const ava = resolve(__dirname, '..', '..', '..', 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
    const totals = { passed: 0, failed: 0, skipped: 0, knownFailures: 0 };
    let code = 0;
    for (const phase of phases(process.argv.slice(2))) {
      const result = await runAva(ava, phase.args, env);
      const failed = result.failed === 0 && result.status !== 0 ? 1 : result.failed;
      totals.passed += result.passed;
      totals.failed += failed;
      totals.skipped += result.skipped;
      totals.knownFailures += result.knownFailures;
      if (phase.label) console.log(`tests (${phase.label}): ${result.passed} passed, ${failed} failed, ${result.skipped} skipped${knownFailures(result.knownFailures)}; ${(result.ms / 1000).toFixed(1)} s`);
      if (result.status !== 0) code = result.status;
    }
    console.log(`\nserver: ${description}; wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped${knownFailures(totals.knownFailures)}`);
    return code;
  } finally {
    await local?.stop();
  }
}

/**
 * What ava runs. Given files run as asked. The whole suite runs in two phases: the consumer test
 * compiles the encryption binding in a fresh app, and that burst of CPU on its own keeps the
 * timing-sensitive tests (TLS handshakes with the KMIP server, fault tests) from sharing the machine with it.
 */
function phases(requested: string[]): Array<{ args: string[]; label?: string }> {
  if (requested.some((arg) => !arg.startsWith('-'))) return [{ args: requested }];
  return [
    { args: [...requested, 'dist/test/**/*.test.js', '!dist/test/consumer/**'], label: 'library' },
    { args: [...requested, 'dist/test/consumer/**/*.test.js'], label: 'consumer' },
  ];
}

/** Open bugs kept as test.failing: named in the summary, never counted as passed. */
function knownFailures(count: number): string {
  return count ? `, ${count} known failure${count === 1 ? '' : 's'} (open bugs, test.failing)` : '';
}

/** One ava run; counts its result lines as they stream (see ResultTally). */
function runAva(ava: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; passed: number; failed: number; skipped: number; knownFailures: number; ms: number }> {
  const started = Date.now();
  return new Promise((res) => {
    const child = spawn(process.execPath, [ava, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const tally = new ResultTally();
    child.stdout.on('data', (chunk: Buffer) => { process.stdout.write(chunk); tally.write(chunk); });
    // 'close' comes after the process exited AND its output streams ended: every line is in.
    child.on('close', (status) => res({ status: status ?? 1, ...tally.end(), ms: Date.now() - started }));
  });
}

main().then((code) => process.exit(code), (err) => {
  console.error(`tests: ${err instanceof Error ? err.message : String(err)}`);
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
});
