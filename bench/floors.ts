/**
 * The two floors every encryption figure is compared with, measured in the same run on the same
 * values as the cost curve (short strings, Random, one data key):
 *  - libmongocrypt's native cost per value: one encryption context finalizing a command whose
 *    markings are already made (what remains when marking costs nothing);
 *  - the cipher's own cost: AEAD_AES_256_CBC_HMAC_SHA_512 of one value (AES-256-CBC, then
 *    HMAC-SHA-512 over associated data, IV, ciphertext and AD length, as the client-side
 *    encryption specification defines it), from `openssl speed` at the same input sizes.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Binary, BSON, type UUID } from 'mongodb';
import { intentMarking, markedCommandReply, MARKINGS_COLLECTION, MARKINGS_DB, markingsSchemaMap } from './markings';

export interface Floors {
  values: number;
  /** Median microseconds per value over the repetitions. */
  nativeUsPerValue: number;
  cipherUsPerValue: number;
}

/** libmongocrypt's context states (mongocrypt_ctx_state_t). */
const NEED_MONGO_KEYS = 3;
const READY = 5;

interface Context {
  readonly state: number;
  addMongoOperationResponse(bson: Uint8Array): void;
  finishMongoOperation(): void;
  finalize(): Uint8Array;
}
interface Crypt {
  makeDataKeyContext(options: Uint8Array, extra: object): Context;
  makeEncryptionContext(db: string, command: Uint8Array): Context;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The values the cost curve writes: `value 0001` … (11-byte strings). */
function curveValues(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `value ${String(i % 10_000).padStart(4, '0')}`);
}

function nativeFloor(values: string[], repetitions: number): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MongoCrypt } = require('mongodb-client-encryption') as { MongoCrypt: new (options: object) => Crypt };
  const crypt = new MongoCrypt({ kmsProviders: BSON.serialize({ local: { key: randomBytes(96) } }), schemaMap: BSON.serialize(markingsSchemaMap()) });
  const keyContext = crypt.makeDataKeyContext(BSON.serialize({ provider: 'local' }), {});
  const keyDocument = keyContext.finalize();
  const keyId = new Binary((BSON.deserialize(keyDocument)._id as UUID).buffer, 4);
  // Built once, outside the timing: the marked command as a query analyzer would hand it over.
  const reply = markedCommandReply(MARKINGS_COLLECTION, values.map((v) => intentMarking(v, 'Random', keyId)));
  const command = BSON.serialize({ find: MARKINGS_COLLECTION, filter: {} });
  const times: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const t0 = process.hrtime.bigint();
    const context = crypt.makeEncryptionContext(MARKINGS_DB, command);
    context.addMongoOperationResponse(reply);
    context.finishMongoOperation();
    if (context.state === NEED_MONGO_KEYS) {
      context.addMongoOperationResponse(keyDocument);
      context.finishMongoOperation();
    }
    if (context.state !== READY) throw new Error(`floor: libmongocrypt context in state ${context.state}`);
    const out = context.finalize();
    times.push(Number(process.hrtime.bigint() - t0) / 1000 / values.length);
    if (out.length < reply.length) throw new Error('floor: finalize returned less than it was given');
  }
  return median(times);
}

/**
 * AES-256-CBC of the padded value plus HMAC-SHA-512 over associated data (18 bytes), IV (16),
 * ciphertext and the AD length (8), as `openssl speed` measures them: OpenSSL's own loop over
 * one input size, CPU seconds per operation, without any caller's per-call overhead.
 */
function cipherFloor(values: string[]): number {
  const plaintextBytes = Math.max(...values.map((v) => Buffer.byteLength(v) + 5));
  const ciphertextBytes = (Math.floor(plaintextBytes / 16) + 1) * 16;
  return opensslUsPerOperation(['-evp', 'aes-256-cbc'], ciphertextBytes) + opensslUsPerOperation(['-hmac', 'sha512'], 18 + 16 + ciphertextBytes + 8);
}

function opensslUsPerOperation(algorithm: string[], bytes: number): number {
  const run = spawnSync('openssl', ['speed', '-mr', '-seconds', '1', '-bytes', String(bytes), ...algorithm], { encoding: 'utf8' });
  if (run.error) throw new Error(`floor: openssl could not be run (${run.error.message}); install openssl for the cipher floor`);
  // Machine-readable result line (OpenSSL 3 prints it on stderr): +R:<operations>:<algorithm>:<CPU seconds>
  const out = `${run.stdout}\n${run.stderr}`;
  const result = /^\+R:(\d+):[^:]+:([\d.]+)$/m.exec(out);
  if (!result) throw new Error(`floor: no result line from openssl speed ${algorithm.join(' ')}`);
  return (Number(result[2]) / Number(result[1])) * 1e6;
}

export function measureFloors(options: { quick: boolean }): Floors {
  const values = curveValues(options.quick ? 2_000 : 20_000);
  const repetitions = options.quick ? 5 : 15;
  nativeFloor(values.slice(0, 500), 2); // warm-up, untimed
  return { values: values.length, nativeUsPerValue: nativeFloor(values, repetitions), cipherUsPerValue: cipherFloor(values) };
}
