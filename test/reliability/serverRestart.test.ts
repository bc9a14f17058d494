/**
 * Fault: the database server is killed (SIGKILL, as a crash) in the middle of concurrent
 * encrypted writes and restarted on the same ports with the same data. Every operation either
 * succeeds or fails with a retryable driver error; retried, every acknowledged write is there
 * and decrypts to what was written; the raw store holds no plaintext and no half-written document.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON, MongoClient, MongoServerError, ObjectId, type CommandStartedEvent } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { masterKeyFile } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { consistent, defineAccount, describeError, isRetryableOutageError, secretsOf, sleep, storedProblems } from './support';

const DB = uniqueDbName(__filename);
const Account = defineAccount(DB);
type AccountT = InstanceType<typeof Account>;

const WORKERS = 8;
const RUN_MS = 6_000;
const KILL_AT_MS = 1_500;
const DOWN_MS = 1_200;
/** A single operation may keep retrying this long (the outage plus the server's start-up). */
const RETRY_BUDGET_MS = 20_000;

test('server killed and restarted mid-run: failures are retryable, every acknowledged write survives decryptable, nothing is stored unencrypted', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strongbox-restart-'));
  let server: LocalServer = await startLocalServer({ dataDir });
  const tls = { enabled: true, caFile: server.caFile, certificateKeyFile: server.clientCertificateKeyFile };
  const client = await createClient({
    uri: server.tlsUri, tls,
    kms: { local: { keyFile: masterKeyFile() } },
    models: [Account],
    environment: 'development',
    warn: () => undefined,
    // Short timeouts so a dead server is noticed in seconds, and frequent heartbeats to find it again.
    driverOptions: { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 1_000, heartbeatFrequencyMS: 300, monitorCommands: true },
  });
  const commands: CommandStartedEvent[] = [];
  client.dataClient.on('commandStarted', (e) => commands.push(e));
  try {
    await client.ensureDataKeys();
    const repo = client.repository(Account);
    /** What each worker knows was acknowledged: _id → version. */
    const ledger = new Map<string, { id: ObjectId; owner: string; version: number }>();
    const stats = { operations: 0, retries: 0, landedBeforeAck: 0, retryableErrors: new Map<string, number>() };
    const unexpected: string[] = [];
    const inconsistent: string[] = [];

    /** Runs op until it succeeds; outage errors are retried, anything else is recorded and ends the worker. */
    const untilDone = async <R>(op: () => Promise<R>): Promise<R | undefined> => {
      const giveUp = Date.now() + RETRY_BUDGET_MS;
      for (;;) {
        try {
          return await op();
        } catch (err) {
          if (!isRetryableOutageError(err) || Date.now() > giveUp) {
            unexpected.push(describeError(err));
            return undefined;
          }
          const kind = (err as Error).constructor.name;
          stats.retryableErrors.set(kind, (stats.retryableErrors.get(kind) ?? 0) + 1);
          stats.retries++;
          await sleep(100);
        }
      }
    };

    const started = Date.now();
    const worker = async (w: number) => {
      const mine: string[] = [];
      for (let n = 0; Date.now() - started < RUN_MS && unexpected.length === 0; n++) {
        stats.operations++;
        const pick = Math.random();
        if (pick < 0.4 || mine.length === 0) {
          const owner = `w${w}-${n}`;
          const id = new ObjectId();
          let attempt = 0;
          const done = await untilDone(async () => {
            try {
              await repo.insertOne({ _id: id, owner, version: 0, ...secretsOf(owner, 0) } as never);
            } catch (err) {
              // A retry of an insert whose first attempt landed before the connection died.
              if (attempt > 0 && err instanceof MongoServerError && err.code === 11000) { stats.landedBeforeAck++; return; }
              throw err;
            } finally { attempt++; }
          });
          if (done === undefined && unexpected.length) return;
          ledger.set(id.toHexString(), { id, owner, version: 0 });
          mine.push(id.toHexString());
        } else if (pick < 0.8) {
          const entry = ledger.get(mine[Math.floor(Math.random() * mine.length)])!;
          const next = entry.version + 1;
          // Conditional on the version: a retry after a lost acknowledgement matches nothing instead of applying twice.
          const result = await untilDone(() => repo.updateOne({ _id: entry.id, version: entry.version } as never, { $set: { version: next, ...secretsOf(entry.owner, next) } } as never));
          if (!result) return;
          if (result.matchedCount === 0) stats.landedBeforeAck++;
          entry.version = next;
        } else {
          const entry = ledger.get(mine[Math.floor(Math.random() * mine.length)])!;
          const found = await untilDone(() => repo.findById(entry.id));
          if (found === undefined) return;
          if (!found || found.version !== entry.version || !consistent(found as AccountT)) inconsistent.push(`read of ${entry.owner} during the run`);
        }
      }
    };

    const fault = (async () => {
      await sleep(KILL_AT_MS);
      await server.kill();
      await sleep(DOWN_MS);
      server = await startLocalServer({ dataDir, port: server.port, tlsPort: server.tlsPort });
    })();
    await Promise.all([fault, ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);

    t.deepEqual(unexpected, [], 'every failure was a retryable outage error');
    t.deepEqual(inconsistent, [], 'every read during the run returned what was written');
    const retryable = [...stats.retryableErrors.values()].reduce((a, b) => a + b, 0);
    t.true(retryable > 0, 'the outage was real: operations failed while the server was down');
    t.true(ledger.size > WORKERS, 'work was acknowledged on both sides of the outage');

    // After the restart: everything acknowledged is there and decrypts to what was written.
    const lost: string[] = [];
    for (const entry of ledger.values()) {
      const found = await repo.findById(entry.id);
      if (!found) lost.push(entry.owner);
      else if (found.version !== entry.version || !consistent(found as AccountT)) inconsistent.push(`${entry.owner}: version ${found.version}, expected ${entry.version}`);
    }
    t.deepEqual(lost, [], 'no acknowledged document was lost');
    t.deepEqual(inconsistent, [], 'no document is half-written: all encrypted fields match its version');

    // The raw store: exactly the acknowledged documents, each field encrypted, no plaintext anywhere.
    const raw = new MongoClient(server.uri);
    try {
      const stored = await raw.db(DB).collection('accounts').find({}).toArray();
      t.is(stored.length, ledger.size, 'no unacknowledged extra document');
      t.deepEqual(stored.flatMap(storedProblems), [], 'every encrypted field is stored as BinData subtype 6');
      const plaintexts = [...ledger.values()].flatMap((e) => [secretsOf(e.owner, e.version).email, secretsOf(e.owner, e.version).note]);
      const storedBytes = Buffer.concat(stored.map((d) => BSON.serialize(d)));
      t.deepEqual(plaintexts.filter((p) => storedBytes.includes(Buffer.from(p))), [], 'no plaintext in the stored bytes');
      const sent = commands.map((c) => BSON.EJSON.stringify(c.command));
      t.deepEqual(plaintexts.filter((p) => sent.some((s) => s.includes(p))), [], 'no plaintext in any command sent');
    } finally {
      await raw.close();
    }
    t.log(`operations ${stats.operations}, acknowledged documents ${ledger.size}, retried failures ${retryable} (${[...stats.retryableErrors].map(([k, v]) => `${k} ×${v}`).join(', ')}), writes found applied on retry ${stats.landedBeforeAck}, lost 0`);
  } finally {
    await client.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
