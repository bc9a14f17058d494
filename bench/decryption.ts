import { ClientEncryption, MongoClient, type Binary, type Document } from 'mongodb';
import { createClient, Encrypted, Id, Model, type StrongboxClient } from '../src';
import { median } from './stats';

const FIELDS = 1500;
const DB = 'odm_decryption';
const KEY_VAULT = 'odm_bench_keys.decryption';
const KEY_ALT_NAME = 'decryption-bench';
export const WORKER_COUNTS = [1, 2] as const;

export interface DecryptionMethod {
  key: string;
  label: string;
  /** True when each operation also reads the document from the server. */
  serverRoundTrip: boolean;
  /** Median ops/s over the trials, per worker count, with every trial's figure. */
  byWorkers: Record<string, { medianOpsPerSec: number; trialsOpsPerSec: number[] }>;
}

export interface DecryptionResult {
  fields: number;
  trials: number;
  trialSec: number;
  workers: string;
  methods: DecryptionMethod[];
  /** Published single-threaded figures of other bindings, for comparison. */
  published: Record<string, number>;
}

/** A model with the 1500 fields, generated (key0001 … key1500), so the repository read path can be measured too. */
function decryptionModel(): Function {
  const Wide = class DecryptionBenchDocument {};
  Id()(Wide.prototype, '_id');
  for (let i = 1; i <= FIELDS; i++) {
    Encrypted({ algorithm: 'Deterministic', bsonType: 'string' })(Wide.prototype as never, key(i));
  }
  Model({ db: DB, collection: 'wide', keyAltName: KEY_ALT_NAME })(Wide);
  return Wide;
}

const key = (i: number) => `key${String(i).padStart(4, '0')}`;

/**
 * The bulk decryption benchmark of the client-side encryption spec: one document with 1500
 * Deterministic-encrypted strings "value 0001" … "value 1500", decrypted repeatedly for one
 * second per trial, after a one-second warm-up; the median ops/s of 10 trials, for 1 and 2
 * workers. Workers are concurrent async loops in this process sharing one handle (libmongocrypt
 * runs on the JavaScript thread, so a second loop only helps where an operation waits on I/O).
 */
export async function runDecryptionBenchmark(options: { uri: string; keyFile: string; masterKey: Buffer; quick: boolean; log: (line: string) => void }): Promise<DecryptionResult> {
  const trials = options.quick ? 3 : 10;
  const trialSec = options.quick ? 0.5 : 1;
  const Wide = decryptionModel();
  const strongbox: StrongboxClient = await createClient({
    uri: options.uri, kms: { local: { keyFile: options.keyFile } }, keyVault: { namespace: KEY_VAULT },
    models: [Wide], environment: 'development', warn: () => undefined,
  });
  const kmsProviders = { local: { key: options.masterKey } };
  const plain = new MongoClient(options.uri);
  const decrypting = new MongoClient(options.uri, { autoEncryption: { bypassAutoEncryption: true, keyVaultNamespace: KEY_VAULT, kmsProviders } });
  try {
    await Promise.all([plain.connect(), decrypting.connect()]);
    const repository = strongbox.repository(Wide as new () => Document);
    await repository.collection.drop().catch(() => undefined);
    const plaintext: Document = {};
    for (let i = 1; i <= FIELDS; i++) plaintext[key(i)] = `value ${String(i).padStart(4, '0')}`;
    const saved = await repository.insertOne(plaintext) as Document;
    const stored = (await plain.db(DB).collection('wide').findOne({ _id: saved._id }))!;
    const encryption = new ClientEncryption(plain, { keyVaultNamespace: KEY_VAULT, kmsProviders });
    const check = (doc: Document | null) => {
      if (!doc || doc.key1500 !== 'value 1500') throw new Error('decryption returned a wrong document');
    };

    const methods: Array<{ key: string; label: string; serverRoundTrip: boolean; op: () => Promise<void> }> = [
      { key: 'strongbox-engine', label: 'Strongbox CryptoEngine.decryptDocuments (in process, key unwrapped by libmongocrypt)', serverRoundTrip: false,
        op: async () => check((await strongbox.engine.decryptDocuments([stored])).docs[0]) },
      { key: 'driver-per-value', label: 'driver ClientEncryption.decrypt per value (1500 concurrent calls)', serverRoundTrip: false,
        op: async () => {
          const out: Document = { _id: stored._id };
          await Promise.all(Object.entries(stored).map(async ([k, v]) => { if (k !== '_id') out[k] = await encryption.decrypt(v as Binary); }));
          check(out);
        } },
      { key: 'strongbox-findById', label: 'Strongbox repository.findById (server read + decrypt + hydrate)', serverRoundTrip: true,
        op: async () => check(await repository.findById(stored._id) as Document | null) },
      { key: 'driver-auto-decrypt', label: 'driver auto-decrypting client findOne (bypassAutoEncryption)', serverRoundTrip: true,
        op: async () => check(await decrypting.db(DB).collection('wide').findOne({ _id: stored._id })) },
      { key: 'find-no-decryption', label: 'plain driver findOne, no decryption (server cost alone)', serverRoundTrip: true,
        op: async () => { if (!(await plain.db(DB).collection('wide').findOne({ _id: stored._id }))) throw new Error('document missing'); } },
    ];

    const results: DecryptionMethod[] = [];
    for (const method of methods) {
      await loop(method.op, 1, trialSec);
      const byWorkers: DecryptionMethod['byWorkers'] = {};
      for (const workers of WORKER_COUNTS) {
        const perTrial: number[] = [];
        for (let t = 0; t < trials; t++) perTrial.push(await loop(method.op, workers, trialSec));
        byWorkers[workers] = { medianOpsPerSec: median(perTrial), trialsOpsPerSec: perTrial };
        options.log(`  ${method.key.padEnd(22)} ${workers} worker(s): ${median(perTrial).toFixed(1)} ops/s (median of ${trials} × ${trialSec} s)`);
      }
      results.push({ key: method.key, label: method.label, serverRoundTrip: method.serverRoundTrip, byWorkers });
    }
    await repository.collection.drop().catch(() => undefined);
    return {
      fields: FIELDS, trials, trialSec,
      workers: 'concurrent async loops in one process, sharing one libmongocrypt handle',
      methods: results,
      published: { 'Python (pymongocrypt, native crypto), 1 thread': 132, 'Java (mongocrypt bindings), 1 thread': 31 },
    };
  } finally {
    await Promise.all([plain.close(), decrypting.close(), strongbox.close()]);
  }
}

/** Runs `workers` loops of `op` for `seconds`; returns completed operations per second. */
async function loop(op: () => Promise<void>, workers: number, seconds: number): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let count = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      await op();
      count++;
    }
  }));
  return count / ((performance.now() - start) / 1000);
}
