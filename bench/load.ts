/**
 * `npm run load`: a bounded load run of concurrent workers doing mixed encrypted CRUD through
 * Strongbox repositories against a local server, with command monitoring. It passes only when
 * nothing unexpected failed, every acknowledged write reads back and decrypts to what was
 * written, deleted documents are gone, and no plaintext of an encrypted field appears in any
 * command or stored document. Reports p50/p99 latency per operation and throughput.
 *
 *   node dist/bench/load.js [--seconds 60] [--workers 50]
 *
 * Without MONGODB_URI it starts a private FerretDB on 127.0.0.1 and talks to it over TLS with the
 * test PKI's client certificate. MONGODB_URI may name another server, on loopback only.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { BSON, Binary, MongoClient, ObjectId, type CommandStartedEvent } from 'mongodb';
import { createClient } from '../src/client/createClient';
import type { StrongboxClient } from '../src/client/strongboxClient';
import { startLocalServer, type LocalServer } from '../src/devserver/ferretdb';
import { Embedded, Encrypted, Field, Id, Index, Model, type Deterministic, type Random } from '../src/metadata';
import type { Repository } from '../src/repository/repository';

interface Options { seconds: number; workers: number; }

function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 60, workers: 50 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=');
    const value = inline ?? argv[++i];
    const n = Number(value);
    if ((flag !== '--seconds' && flag !== '--workers') || !Number.isFinite(n) || n <= 0) {
      throw new Error(`usage: node dist/bench/load.js [--seconds 60] [--workers 50] (got ${argv.join(' ')})`);
    }
    options[flag === '--seconds' ? 'seconds' : 'workers'] = flag === '--workers' ? Math.floor(n) : n;
  }
  return options;
}

/** A run-specific token inside every plaintext of an encrypted field, and nowhere else: finding it on the wire or on disk is a leak. */
const SALT = `LEAK${randomBytes(6).toString('hex')}`;
const DB = `sb_load_${randomBytes(3).toString('hex')}`;

class Address {
  @Field() city!: string;
  @Index() @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'load-pii' }) zip!: Deterministic<string>;
}

@Model({ db: DB, collection: 'accounts', keyAltName: 'load-pii' })
class Account {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Field({ bsonType: 'int' }) version!: number;
  // Deterministic ciphertext can be indexed: equality lookups stay index lookups.
  @Index() @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'int' }) balance!: Random<number>;
  @Embedded(() => Address) address!: Address;
}

/** Every encrypted value of an account at a version: distinct, recognisable, salted. */
function valuesOf(owner: string, version: number) {
  return {
    email: `${owner}.v${version}.${SALT}@example.invalid`,
    note: `note ${owner} v${version} ${SALT} ${'x'.repeat(version % 7 * 20)}`,
    balance: 1_000 + version,
    address: { city: 'Springfield', zip: `${SALT}-${owner}-${version}` },
  };
}

function matches(found: Account | null, owner: string, version: number): boolean {
  const expected = valuesOf(owner, version);
  return found !== null && found.owner === owner && found.version === version && found.email === expected.email
    && found.note === expected.note && found.balance === expected.balance && found.address?.zip === expected.address.zip && found.address?.city === expected.address.city;
}

type OpName = 'insertOne' | 'insertMany' | 'findById' | 'findByEmail' | 'updateOne' | 'deleteOne' | 'aggregate';
const MIX: Array<[OpName, number]> = [['insertOne', 20], ['insertMany', 5], ['findById', 25], ['findByEmail', 15], ['updateOne', 20], ['deleteOne', 5], ['aggregate', 10]];

interface Entry { id: ObjectId; owner: string; version: number; }

class Stats {
  readonly latencies = new Map<OpName, number[]>();
  readonly errors = new Map<string, number>();
  readonly wrongReads: string[] = [];
  record(op: OpName, ms: number): void {
    let list = this.latencies.get(op);
    if (!list) this.latencies.set(op, (list = []));
    list.push(ms);
  }
  error(op: OpName, err: unknown): void {
    const e = err as Error & { code?: unknown };
    // FerretDB puts its Go call stack first and the cause last: keep both ends of long messages.
    const message = String(e?.message ?? err).split('\n')[0];
    const text = message.length > 240 ? `${message.slice(0, 80)} … ${message.slice(-160)}` : message;
    const key = `${op}: ${e?.constructor?.name ?? typeof err}${e?.code !== undefined ? ` ${String(e.code)}` : ''}: ${text}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function pick(): OpName {
  let r = Math.random() * MIX.reduce((a, [, w]) => a + w, 0);
  for (const [op, w] of MIX) if ((r -= w) < 0) return op;
  return 'findById';
}

/** One worker: owns the documents it creates, so it knows the exact version each must have. */
async function worker(w: number, repo: Repository<Account>, deadline: number, stats: Stats, live: Map<string, Entry>, deleted: ObjectId[]): Promise<void> {
  const mine: Entry[] = [];
  let n = 0;
  const fresh = (): Entry => ({ id: new ObjectId(), owner: `w${w}-${n++}`, version: 0 });
  const docOf = (e: Entry) => ({ _id: e.id, owner: e.owner, version: e.version, ...valuesOf(e.owner, e.version) });
  const any = () => mine[Math.floor(Math.random() * mine.length)];
  while (Date.now() < deadline) {
    let op = pick();
    if (mine.length === 0 && op !== 'insertMany') op = 'insertOne';
    const started = performance.now();
    try {
      switch (op) {
        case 'insertOne': {
          const e = fresh();
          await repo.insertOne(docOf(e) as never);
          mine.push(e); live.set(e.id.toHexString(), e);
          break;
        }
        case 'insertMany': {
          const batch = Array.from({ length: 5 }, fresh);
          await repo.insertMany(batch.map(docOf) as never[]);
          for (const e of batch) { mine.push(e); live.set(e.id.toHexString(), e); }
          break;
        }
        case 'findById': {
          const e = any();
          const found = await repo.findById(e.id);
          if (!matches(found, e.owner, e.version)) stats.wrongReads.push(`findById ${e.owner} v${e.version}`);
          break;
        }
        case 'findByEmail': {
          const e = any();
          const found = await repo.find({ email: valuesOf(e.owner, e.version).email } as never).toArray();
          if (found.length !== 1 || !matches(found[0], e.owner, e.version)) stats.wrongReads.push(`find by email ${e.owner} v${e.version}: ${found.length} found`);
          break;
        }
        case 'updateOne': {
          const e = any();
          const next = e.version + 1;
          const result = await repo.updateOne({ _id: e.id, version: e.version } as never, { $set: { version: next, ...valuesOf(e.owner, next) } } as never);
          if (result.matchedCount !== 1) stats.wrongReads.push(`update ${e.owner} v${e.version} matched ${result.matchedCount}`);
          e.version = next;
          break;
        }
        case 'deleteOne': {
          const e = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
          const result = await repo.deleteOne({ _id: e.id, 'address.zip': valuesOf(e.owner, e.version).address.zip } as never);
          if (result.deletedCount !== 1) stats.wrongReads.push(`delete ${e.owner} deleted ${result.deletedCount}`);
          live.delete(e.id.toHexString()); deleted.push(e.id);
          break;
        }
        case 'aggregate': {
          const e = any();
          const rows = await repo.aggregate([{ $match: { 'address.zip': valuesOf(e.owner, e.version).address.zip } }, { $project: { note: 1, version: 1 } }]).toArray();
          if (rows.length !== 1 || rows[0].note !== valuesOf(e.owner, e.version).note) stats.wrongReads.push(`aggregate ${e.owner} v${e.version}`);
          break;
        }
      }
      stats.record(op, performance.now() - started);
    } catch (err) {
      stats.error(op, err);
    }
  }
}

/** The server to load: MONGODB_URI (loopback only) or a private FerretDB. */
async function target(): Promise<{ uri: string; tls: object; description: string; rawUri: string; rawTls: object; stop(): Promise<void> }> {
  const given = process.env.MONGODB_URI;
  if (given) {
    const hosts = given.replace(/^mongodb(\+srv)?:\/\/([^@/]*@)?/, '').split(/[/?]/)[0].split(',').map((h) => h.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
    if (given.startsWith('mongodb+srv') || hosts.some((h) => !['127.0.0.1', 'localhost', '::1'].includes(h))) {
      throw new Error(`MONGODB_URI must name a server on loopback (127.0.0.1, localhost, ::1) for a load run; got ${hosts.join(', ')}`);
    }
    return { uri: given, tls: {}, description: 'MONGODB_URI', rawUri: given, rawTls: {}, stop: async () => undefined };
  }
  const local: LocalServer = await startLocalServer();
  return {
    uri: local.tlsUri,
    tls: { enabled: true, caFile: local.caFile, certificateKeyFile: local.clientCertificateKeyFile },
    description: `${local.description}, private instance over TLS`,
    rawUri: local.uri,
    rawTls: {},
    stop: () => local.stop(),
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const server = await target();
  let client: StrongboxClient | undefined;
  try {
    client = await createClient({
      uri: server.uri, tls: server.tls,
      kms: { local: { key: randomBytes(96) } },
      keyVault: { namespace: `${DB}_keys.__keyVault` },
      models: [Account],
      environment: 'development',
      warn: () => undefined,
      driverOptions: { monitorCommands: true, maxPoolSize: options.workers + 10 },
    });
    // Every command is scanned as it is sent; keeping them all would only cost memory.
    let commandCount = 0;
    const leakedIn = new Map<string, number>();
    const salt = Buffer.from(SALT);
    client.dataClient.on('commandStarted', (event: CommandStartedEvent) => {
      commandCount++;
      if (Buffer.from(BSON.serialize(event.command)).includes(salt) || BSON.EJSON.stringify(event.command).includes(SALT)) {
        leakedIn.set(event.commandName, (leakedIn.get(event.commandName) ?? 0) + 1);
      }
    });
    await client.ensureDataKeys();
    const repo = client.repository(Account);
    await repo.collection.createIndexes(client.registry.get(Account).indexes);

    console.log(`strongbox load: ${options.workers} workers for ${options.seconds} s against ${server.description}`);
    const stats = new Stats();
    const live = new Map<string, Entry>();
    const deleted: ObjectId[] = [];
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const deadline = Date.now() + options.seconds * 1000;
    await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w, repo, deadline, stats, live, deleted)));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;

    // Verification: every acknowledged document, as Strongbox reads it and as the server stores it.
    const entries = [...live.values()];
    let lost = 0;
    let wrong = 0;
    for (let i = 0; i < entries.length; i += 500) {
      const batch = entries.slice(i, i + 500);
      const found = new Map((await repo.find({ _id: { $in: batch.map((e) => e.id) } } as never).toArray()).map((a) => [a._id.toHexString(), a]));
      for (const e of batch) {
        const a = found.get(e.id.toHexString());
        if (!a) lost++;
        else if (!matches(a, e.owner, e.version)) wrong++;
      }
    }
    const raw = new MongoClient(server.rawUri, server.rawTls);
    let storedUnencrypted = 0;
    let storedWithPlaintext = 0;
    let resurrected = 0;
    let storedCount = 0;
    try {
      resurrected = await raw.db(DB).collection('accounts').countDocuments({ _id: { $in: deleted } });
      for await (const doc of raw.db(DB).collection('accounts').find({})) {
        storedCount++;
        const encrypted = [doc.email, doc.note, doc.balance, doc.address?.zip];
        if (!encrypted.every((v) => v instanceof Binary && v.sub_type === 6)) storedUnencrypted++;
        if (Buffer.from(BSON.serialize(doc)).includes(salt)) storedWithPlaintext++;
      }
      await raw.db(DB).dropDatabase();
      await raw.db(`${DB}_keys`).dropDatabase();
    } finally {
      await raw.close();
    }

    const all = [...stats.latencies.values()].flat().sort((a, b) => a - b);
    const errorCount = [...stats.errors.values()].reduce((a, b) => a + b, 0);
    const leaks = [...leakedIn.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${'operation'.padEnd(12)}${'count'.padStart(9)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
    for (const [op] of MIX) {
      const list = (stats.latencies.get(op) ?? []).sort((a, b) => a - b);
      console.log(`${op.padEnd(12)}${String(list.length).padStart(9)}${percentile(list, 50).toFixed(1).padStart(10)}${percentile(list, 99).toFixed(1).padStart(10)}`);
    }
    console.log(`${'all'.padEnd(12)}${String(all.length).padStart(9)}${percentile(all, 50).toFixed(1).padStart(10)}${percentile(all, 99).toFixed(1).padStart(10)}`);
    console.log(`\nthroughput: ${(all.length / elapsed).toFixed(0)} operations/s over ${elapsed.toFixed(1)} s (${commandCount} commands monitored)`);
    // Where the time goes: this process (Strongbox, the driver, encryption) versus waiting on the server.
    console.log(`client CPU: ${cpuSeconds.toFixed(1)} s (${((cpuSeconds / elapsed) * 100).toFixed(0)}% of one core); load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
    console.log(`errors: ${errorCount}${errorCount ? `\n  ${[...stats.errors].map(([k, v]) => `${v} × ${k}`).join('\n  ')}` : ''}`);
    console.log(`wrong results during the run: ${stats.wrongReads.length}${stats.wrongReads.length ? ` (first: ${stats.wrongReads.slice(0, 5).join('; ')})` : ''}`);
    console.log(`acknowledged documents: ${entries.length} live, ${deleted.length} deleted; stored: ${storedCount}; lost: ${lost}; decrypting to something else: ${wrong}; deleted but present: ${resurrected}`);
    console.log(`plaintext of encrypted fields: in commands ${leaks}${leaks ? ` (${[...leakedIn].map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''}, stored unencrypted fields in ${storedUnencrypted} documents, plaintext bytes in ${storedWithPlaintext} stored documents`);
    const pass = errorCount === 0 && stats.wrongReads.length === 0 && lost === 0 && wrong === 0 && resurrected === 0 && storedCount === entries.length
      && leaks === 0 && storedUnencrypted === 0 && storedWithPlaintext === 0 && all.length > 0;
    console.log(`RESULT: ${pass ? 'PASS' : 'FAIL'}`);
    return pass ? 0 : 1;
  } finally {
    await client?.close();
    await server.stop();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
  console.log('RESULT: FAIL');
  process.exit(1);
});
