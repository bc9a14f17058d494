import { BSON, UUID, type Binary, type ClientEncryption, type Document } from 'mongodb';
import { ALGORITHM_NAMES, isEncryptedBinary, type StoredAlgorithm } from './blob';
import { runContext, type NativeMongoCrypt } from './driverInternals';
import { StrongboxError } from '../errors';
import { classifyCryptError, encryptionFailure, groupTooLarge } from './failures';
import { ciphertextLength, intentMarking, MAX_BSON_SIZE } from './intentMarking';
import { markedCommandReply } from './markedCommand';

/** One value to encrypt, with the field it belongs to (for errors: never the value). */
export interface ValueToEncrypt {
  value: unknown;
  algorithm: StoredAlgorithm;
  /** The data key; a promise while its id is still being looked up (or the key created). */
  keyId: Binary | Promise<Binary>;
  /** The field, as errors name it ("Patient.ssn"). */
  where: string;
}

/**
 * The data key of a value of a group: its id, the lookup under way, or the lookup to start once
 * the batch is encrypted (so a write refused by its walk never reaches the key vault).
 */
export type GroupKey = Binary | Promise<Binary> | (() => Promise<Binary>);

/**
 * The values of one command, each with the place its ciphertext goes. They are encrypted with
 * every other group requested in the same synchronous stretch, and the group settles once: a
 * bulk load of thousands of values makes no promise, closure or callback per value. The first
 * value that fails (with an error naming its field, never the value) fails the whole group.
 */
export class EncryptionGroup {
  readonly items: Item[] = [];
  failure: unknown;
  private failed = false;

  /** Adds a value; its ciphertext is written to `container[key]` when the group is encrypted. */
  add(value: unknown, algorithm: StoredAlgorithm, keyId: GroupKey, where: string, container: Record<string, unknown> | unknown[], key: string | number): void {
    this.items.push(new Item(value, algorithm, keyId, where, container as Record<string | number, unknown>, key, this));
  }

  /** Fails the group (the first failure is the one reported). */
  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  get hasFailed(): boolean { return this.failed; }
}

/**
 * One value of a group, and once its key is known, its marking: one object per value (a class,
 * not spread copies), as a bulk load makes one per value.
 */
class Item {
  key: Binary | undefined;
  marking: Uint8Array | undefined;

  constructor(
    readonly value: unknown,
    readonly algorithm: StoredAlgorithm,
    public keyId: GroupKey,
    readonly where: string,
    readonly container: Record<string | number, unknown>,
    readonly slot: string | number,
    readonly group: EncryptionGroup,
  ) {}

  /** A refusal Strongbox itself raised while the value was serialized (a marker's toBSON) is the failure; anything else is described as the encryption's. */
  fail(err: unknown): void { this.group.fail(err instanceof StrongboxError ? err : encryptionFailure(err, this.algorithm, this.key!, this.where)); }
}

/** An item with its key and marking. */
type Marked = Item & { key: Binary; marking: Uint8Array };

/** A group waiting for the batch it joined, with the promise its command awaits. */
class Waiting {
  constructor(readonly group: EncryptionGroup, readonly resolve: () => void, readonly reject: (err: unknown) => void) {}
}

/** libmongocrypt's context states (mongocrypt_ctx_state_t). */
const NEED_MONGO_MARKINGS = 2;

/**
 * libmongocrypt asks for markings only for a namespace with an encryption schema; this one
 * exists only inside this process: the command naming it is never sent anywhere, only its
 * markings are encrypted.
 */
const MARKINGS_DB = 'strongbox';
const MARKINGS_COLLECTION = 'markings';

/** The schema map that makes libmongocrypt ask for markings for the markings namespace. */
export function markingsSchemaMap(): Document {
  const anyKey = new UUID('00000000-0000-4000-8000-000000000000');
  return {
    [`${MARKINGS_DB}.${MARKINGS_COLLECTION}`]: {
      bsonType: 'object',
      properties: { v: { encrypt: { bsonType: 'string', algorithm: ALGORITHM_NAMES.Random, keyId: [anyKey] } } },
    },
  };
}

const MARKINGS_COMMAND = BSON.serialize({ find: MARKINGS_COLLECTION, filter: {} });

/**
 * Markings per encryption context at most (bytes): a bulk load of many thousands of documents
 * goes through a few contexts of this size rather than one reply document of unbounded size.
 */
const MAX_MARKING_BYTES = 8 * 1024 * 1024;

/**
 * Encrypts the values of a command in one libmongocrypt encryption context. Strongbox is its
 * own query analyzer: it already knows which values to encrypt, with which algorithm and key, so
 * it answers libmongocrypt's request for markings (the job of mongocryptd or the crypt shared
 * library in the client-side encryption specification) in-process with intent-to-encrypt
 * markings. libmongocrypt then fetches every data key the markings name in one key-vault read and
 * encrypts them all in one native pass.
 *
 * Every value requested in one turn of the event loop (one command: an insert of many documents,
 * an update with its filter and arrayFilters, a bulk write; or several commands started
 * together) joins the same batch, which is encrypted when that turn's promise reactions are done.
 */
export class CommandEncryptor {
  private waiting: Waiting[] = [];
  /** Encryption contexts run so far (one per batch when nothing fails). */
  contexts = 0;

  constructor(
    private readonly crypt: NativeMongoCrypt,
    /** The driver's handle, as the key vault and KMS executor of libmongocrypt's state machine. */
    private readonly executor: ClientEncryption,
    private readonly kmsTlsOptions: Document,
  ) {}

  /** Joins the current batch; resolves to the value's ciphertext, or rejects with an error naming the field. */
  async encrypt(value: ValueToEncrypt): Promise<Binary> {
    const group = new EncryptionGroup();
    const holder: unknown[] = [undefined];
    group.add(value.value, value.algorithm, value.keyId, value.where, holder, 0);
    await this.encryptGroup(group);
    return holder[0] as Binary;
  }

  /**
   * Joins the current batch with every value of `group`; resolves once each ciphertext is in its
   * place, or rejects with the group's first failure. A group that failed before (a value its
   * walk could not check) rejects without being encrypted.
   */
  encryptGroup(group: EncryptionGroup): Promise<void> {
    if (group.hasFailed) return Promise.reject(group.failure);
    if (group.items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push(new Waiting(group, resolve, reject));
      // Once every promise reaction of this turn of the event loop has run: the parts of a command
      // prepared concurrently (a bulk write's operations, a filter beside its update) join one batch
      // however many awaits each takes.
      if (this.waiting.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    try {
      await this.encryptBatch(batch.flatMap((waiting) => waiting.group.items));
    } catch (err) {
      // Not expected (settle catches libmongocrypt's errors); no group may be left waiting.
      for (const waiting of batch) waiting.group.fail(err);
    }
    for (const waiting of batch) {
      if (waiting.group.hasFailed) waiting.reject(waiting.group.failure);
      else waiting.resolve();
    }
  }

  private async encryptBatch(batch: Item[]): Promise<void> {
    const keys = await resolveKeys(batch);
    const marked: Marked[] = [];
    /** Bytes each group's values take in a stored document once encrypted: a lower bound of its size. */
    const sizes = new Map<EncryptionGroup, number>();
    for (const item of batch) {
      // resolveKeys started every lookup that was still to start.
      const keyId = item.keyId as Binary | Promise<Binary>;
      const key = keyId instanceof Promise ? keys.get(keyId)! : { id: keyId };
      if (!('id' in key)) {
        item.group.fail(key.error);
        continue;
      }
      item.key = key.id;
      try {
        item.marking = intentMarking(item.value, item.algorithm, key.id);
        marked.push(item as Marked);
        // A binary element: type byte, name and its 0, length, subtype, then the ciphertext.
        const element = 1 + String(item.slot).length + 1 + 4 + 1 + ciphertextLength(item.marking, key.id);
        sizes.set(item.group, (sizes.get(item.group) ?? 0) + element);
      } catch (err) {
        item.fail(err);
      }
    }
    // A group is one document (or one value): values that each fit but together exceed MongoDB's
    // limit once encrypted would only be refused by the driver, after the encryption.
    for (const [group, bytes] of sizes) {
      if (bytes > MAX_BSON_SIZE) group.fail(groupTooLarge(group.items.map((item) => item.where)));
    }
    const wanted = marked.filter((item) => !item.group.hasFailed);
    for (const chunk of chunks(wanted)) await this.settle(chunk);
  }

  /**
   * Encrypts a chunk in one context. When that fails, each value still learns its own outcome:
   * the chunk is retried one data key at a time (a missing key, or one the master key cannot
   * unwrap, fails only its values), and a value libmongocrypt refuses is found by encrypting the
   * values of its key one at a time. A KMS or key-vault outage fails the whole chunk at once. Commands wait for all their values, so any failure fails the whole command
   * before anything is sent.
   */
  private async settle(chunk: Marked[]): Promise<void> {
    try {
      const ciphertexts = await this.run(chunk);
      for (let i = 0; i < chunk.length; i++) {
        const { container, slot } = chunk[i];
        container[slot] = ciphertexts[i];
      }
    } catch (err) {
      const reason = classifyCryptError(err);
      // An unreachable KMS or key vault fails every key alike: retrying key by key would only wait for it again and again.
      const outage = reason === 'kms-unreachable' || reason === 'key-vault-unreachable';
      const byKey = outage ? [] : groupByKey(chunk);
      if (byKey.length > 1) {
        for (const group of byKey) await this.settle(group);
      } else if (!outage && chunk.length > 1 && reason === 'corrupt') {
        for (const request of chunk) await this.settle([request]);
      } else {
        for (const request of chunk) request.fail(err);
      }
    }
  }

  private async run(chunk: Marked[]): Promise<Binary[]> {
    this.contexts++;
    const context = this.crypt.makeEncryptionContext(MARKINGS_DB, MARKINGS_COMMAND);
    if (context.state !== NEED_MONGO_MARKINGS) {
      throw new Error(context.status.message ?? `libmongocrypt did not ask for markings (state ${context.state})`);
    }
    context.addMongoOperationResponse(markedCommandReply(MARKINGS_COLLECTION, chunk.map((request) => request.marking)));
    context.finishMongoOperation();
    const finalized = BSON.deserialize(await runContext(this.executor, context, this.kmsTlsOptions), { promoteValues: false });
    const ciphertexts = finalized.filter?.v as unknown[] | undefined;
    // Fail closed: every marking must have come back as ciphertext, never as a marking (first byte 0) or anything else.
    if (!Array.isArray(ciphertexts) || ciphertexts.length !== chunk.length || !ciphertexts.every((c) => isEncryptedBinary(c) && c.buffer[0] !== 0)) {
      throw new Error('libmongocrypt returned the command without ciphertext for every marking');
    }
    return ciphertexts as Binary[];
  }
}

/** Waits once for each distinct key lookup of the batch (a bulk load under one key has one). */
async function resolveKeys(batch: Item[]): Promise<Map<Promise<Binary>, { id: Binary } | { error: unknown }>> {
  const keys = new Map<Promise<Binary>, { id: Binary } | { error: unknown }>();
  for (const item of batch) {
    // A lookup started only now; the key vault's cache gives every value of one alt name the same promise.
    if (typeof item.keyId === 'function') item.keyId = item.keyId();
    const { keyId } = item;
    if (keyId instanceof Promise && !keys.has(keyId)) keys.set(keyId, { error: undefined });
  }
  await Promise.all([...keys.keys()].map((lookup) => lookup.then((id) => keys.set(lookup, { id }), (error) => keys.set(lookup, { error }))));
  return keys;
}

function chunks(marked: Marked[]): Marked[][] {
  const out: Marked[][] = [];
  let current: Marked[] = [];
  let bytes = 0;
  for (const request of marked) {
    const size = request.marking.length;
    if (current.length && bytes + size > MAX_MARKING_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(request);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

function groupByKey(chunk: Marked[]): Marked[][] {
  const groups = new Map<string, Marked[]>();
  for (const request of chunk) {
    const key = request.key.toString('hex');
    const group = groups.get(key);
    if (group) group.push(request); else groups.set(key, [request]);
  }
  return [...groups.values()];
}
