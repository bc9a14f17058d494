/**
 * What the adversarial tests (test/security/adversary*.test.ts) share: they call repositories as
 * plain JavaScript would, without types, and record what a call did instead of failing on it.
 */
import test from 'ava';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { BSON, ObjectId, type Collection, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import { createClient, StrongboxError, type StrongboxClient } from '../../src/index';
import { rawClient, testClient } from './client';
import { testServer } from './server';

/** A repository without types: any method, any arguments, as a caller from plain JavaScript sees it. */
export type AnyRepo = Record<string, (...args: any[]) => any>;

export function untypedRepository(client: StrongboxClient, model: Function): AnyRepo {
  return client.repository(model as never) as unknown as AnyRepo;
}

let counter = 0;

/** A name no other test of this process uses. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${counter++}`;
}

/** What a call did: its value, or what it threw. */
export async function outcome(call: () => Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await call() };
  } catch (error) {
    return { error };
  }
}

/** An error in one line for a test's message: its class, code and the start of its message. */
export function describe(err: unknown): string {
  return `${(err as Error)?.constructor?.name} ${(err as { code?: string })?.code ?? ''} ${(err as Error)?.message ?? ''}`.slice(0, 300);
}

/**
 * Runs each call and says what went wrong for those that were not refused with a StrongboxError
 * before any of `commands` reached the server (as `sent`, a watched client's record, shows).
 */
export async function refusedBeforeSending(sent: CommandStartedEvent[], calls: Array<[string, () => Promise<unknown>]>, commands: readonly string[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const [what, call] of calls) {
    sent.length = 0;
    const error = await call().then(() => undefined, (e: unknown) => e ?? new Error('rejected with nothing'));
    const reached = sent.filter((c) => commands.includes(c.commandName)).map((c) => c.commandName);
    if (error === undefined) wrong.push(`${what}: accepted (sent ${reached.join(', ')})`);
    else if (!(error instanceof StrongboxError)) wrong.push(`${what}: ${describe(error)}`);
    else if (reached.length > 0) wrong.push(`${what}: refused after ${reached.join(', ')}`);
  }
  return wrong;
}

/**
 * A watched client for one test file: a Strongbox client whose every command on `db` is recorded
 * in `sent`, and the raw driver beside it to read what is stored. Registers the file's before and
 * after hooks (the database is dropped at the end).
 */
export function watchedClient(db: string, models: Function[]): { readonly client: StrongboxClient; readonly raw: MongoClient; sent: CommandStartedEvent[] } {
  const watched = { client: undefined as unknown as StrongboxClient, raw: undefined as unknown as MongoClient, sent: [] as CommandStartedEvent[] };
  test.before(async () => {
    watched.client = await testClient(models, { driverOptions: { monitorCommands: true } });
    watched.client.dataClient.on('commandStarted', (e) => { if (e.databaseName === db) watched.sent.push(e); });
    watched.raw = await rawClient();
  });
  test.after.always(async () => {
    await watched.raw?.db(db).dropDatabase().catch(() => undefined);
    await Promise.all([watched.client?.close(), watched.raw?.close()]);
  });
  return watched;
}

/** The stored document as the server holds it, BSON values unpromoted (an int64 stays a Long). */
export async function storedIn(collection: Collection, id: unknown): Promise<Document> {
  return (await collection.findOne({ _id: id as ObjectId }, { promoteValues: false }))!;
}

/** The bytes BSON writes for a value. */
export const bytesOf = (v: unknown): Buffer => Buffer.from(BSON.serialize({ v }));

/** A call's outcome in one word: 'ok', or the error's code. */
export const outcomeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e as { code?: string })?.code ?? String(e));

/**
 * Inserts `doc` through `repo`, then plants in `collection`, at each path, the ciphertext of another
 * field of a fresh donor document (its own values, so two calls plant different ciphertexts):
 * `phone` (Deterministic) where Random is declared or outside encrypted fields, `ssn` (Random)
 * where Deterministic is declared. Each reads as a marker under `onUndecryptable: 'marker'`.
 */
export async function plantMarkers(repo: AnyRepo, collection: Collection, doc: Document, paths: Record<string, 'phone' | 'ssn'>): Promise<{ id: ObjectId; before: Document }> {
  const donor = await repo.insertOne({ phone: `donor-phone-${new ObjectId().toHexString()}`, ssn: `donor-ssn-${new ObjectId().toHexString()}` });
  const ciphers = await storedIn(collection, donor._id);
  const saved = await repo.insertOne(doc);
  await collection.updateOne({ _id: saved._id }, { $set: Object.fromEntries(Object.entries(paths).map(([p, from]) => [p, ciphers[from]])) });
  return { id: saved._id, before: await storedIn(collection, saved._id) };
}

/**
 * Moves this process's wall clock (Date.now) and monotonic clock (performance.now) by the given
 * amounts, to simulate time passing or the system clock being set; returns the undo.
 */
export function shiftClocks({ wallMs, monotonicMs }: { wallMs: number; monotonicMs: number }): () => void {
  const wall = Date.now;
  const monotonic = performance.now.bind(performance);
  Date.now = () => wall() + wallMs;
  performance.now = () => monotonic() + monotonicMs;
  return () => {
    Date.now = wall;
    delete (performance as { now?: unknown }).now;
  };
}

/**
 * A client of the test server whose local master key and key vault the test chooses (to unwrap
 * its data keys itself, or to start from an empty vault), with command monitoring on.
 */
export async function localKeyClient(models: Function[], masterKey: Buffer, keyVaultNamespace: string, options: { warn?: (message: string) => void } & Document = {}): Promise<StrongboxClient> {
  const server = await testServer();
  return createClient({
    uri: server.uri, tls: server.tls, kms: { local: { key: masterKey.toString('base64') } }, keyVault: { namespace: keyVaultNamespace },
    models, environment: 'development', warn: () => undefined, driverOptions: { monitorCommands: true }, ...options,
  } as never);
}

/*
 * The local KMS provider's wrapping of a data key, as libmongocrypt does it: AES-256-CBC under the
 * last 32 bytes of the 96-byte master key, then HMAC-SHA-512 (truncated to 32 bytes) under its first
 * 32 over IV and ciphertext and the 8-byte length of the (empty) associated data — the
 * AEAD_AES_256_CBC_HMAC_SHA_512 construction of the client-side encryption specification. Rounds
 * that plant keys in the vault, or read keys out of it as references, use these.
 */
export function wrapLocalKey(master: Buffer, key: Buffer): Buffer {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', master.subarray(32, 64), iv);
  const body = Buffer.concat([iv, cipher.update(key), cipher.final()]);
  const tag = createHmac('sha512', master.subarray(0, 32)).update(body).update(Buffer.alloc(8)).digest().subarray(0, 32);
  return Buffer.concat([body, tag]);
}

export function unwrapLocalKey(master: Buffer, wrapped: Buffer): Buffer {
  const body = wrapped.subarray(0, wrapped.length - 32);
  const tag = createHmac('sha512', master.subarray(0, 32)).update(body).update(Buffer.alloc(8)).digest().subarray(0, 32);
  if (!tag.equals(wrapped.subarray(wrapped.length - 32))) throw new Error('bad tag');
  const decipher = createDecipheriv('aes-256-cbc', master.subarray(32, 64), body.subarray(0, 16));
  // In memory of its own (not Node's pool): a key must not land beside the views some rounds scan for it.
  const head = decipher.update(body.subarray(16));
  const tail = decipher.final();
  const out = Buffer.allocUnsafeSlow(head.length + tail.length);
  head.copy(out);
  tail.copy(out, head.length);
  return out;
}
