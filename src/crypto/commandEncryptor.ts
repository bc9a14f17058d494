import type { Binary } from 'mongodb';
import type { StoredAlgorithm } from './blob';
import { hexOf, UnavailableKey, type UnwrappedKeys } from './dataKeys';
import { StrongboxError } from '../errors';
import { encryptionFailure, groupTooLarge } from './failures';
import { encryptionPlaintext, MAX_BSON_SIZE, type Plaintext } from './plaintext';
import { wipe } from '../bson/memory';
import { encryptedValueLength, encryptValues } from './valueCipher';

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
 * One value of a group, and once its key is known, its plaintext: one object per value (a
 * class, not spread copies), as a bulk load makes one per value.
 */
class Item {
  key: Binary | undefined;
  plaintext: Plaintext | undefined;

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

/** An item with its key and plaintext. */
type Ready = Item & { key: Binary; plaintext: Plaintext };

/** A group waiting for the batch it joined, with the promise its command awaits. */
class Waiting {
  constructor(readonly group: EncryptionGroup, readonly resolve: () => void, readonly reject: (err: unknown) => void) {}
}

/**
 * Encrypts the values of commands, a batch at a time. Strongbox knows from the model which values
 * to encrypt, with which algorithm and key; it encrypts them itself with the specification's
 * cipher (valueCipher.ts) under data keys libmongocrypt fetched and unwrapped (dataKeys.ts), so
 * each value costs the cipher's work and no libmongocrypt context, while the key vault and the
 * KMS are used exactly as libmongocrypt uses them.
 *
 * Every value requested in one turn of the event loop (one command: an insert of many documents,
 * an update with its filter and arrayFilters, a bulk write; or several commands started
 * together) joins the same batch, which is encrypted when that turn's promise reactions are done:
 * its keys are looked up and unwrapped once, together.
 */
export class CommandEncryptor {
  private waiting: Waiting[] = [];
  /** Batches encrypted so far (one per turn of the event loop that asked for encryption). */
  batches = 0;

  constructor(private readonly keys: UnwrappedKeys) {}

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
    this.batches++;
    try {
      await this.encryptBatch(batch.length === 1 ? batch[0].group.items : batch.flatMap((waiting) => waiting.group.items));
    } catch (err) {
      // Not expected (every failure is an item's); no group may be left waiting.
      for (const waiting of batch) waiting.group.fail(err);
    }
    for (const waiting of batch) {
      if (waiting.group.hasFailed) waiting.reject(waiting.group.failure);
      else waiting.resolve();
    }
  }

  private async encryptBatch(batch: Item[]): Promise<void> {
    const lookups = startLookups(batch);
    // Keys named by id (every alt name once found) need no wait.
    const ids = lookups.size === 0 ? lookups : await settle(lookups);
    const ready: Ready[] = [];
    /** Bytes each group's values take in a stored document once encrypted: a lower bound of its size. */
    const sizes = new Map<EncryptionGroup, number>();
    for (const item of batch) {
      // startLookups started every lookup that was still to start.
      const keyId = item.keyId as Binary | Promise<Binary>;
      if (keyId instanceof Promise) {
        const looked = ids.get(keyId)!;
        if (!('id' in looked)) {
          item.group.fail(looked.error);
          continue;
        }
        item.key = looked.id;
      } else {
        item.key = keyId;
      }
      try {
        item.plaintext = encryptionPlaintext(item.value, item.algorithm);
        ready.push(item as Ready);
        // A binary element: type byte, name and its 0, length, subtype, then the ciphertext.
        const name = typeof item.slot === 'string' ? item.slot.length : String(item.slot).length;
        const element = 1 + name + 1 + 4 + 1 + encryptedValueLength(item.plaintext.bytes.length);
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
    try {
      await this.seal(ready.filter((item) => !item.group.hasFailed));
    } finally {
      // The plaintext bytes are Strongbox's own copies, in memory Node may reuse: wipe them.
      for (const item of ready) wipe(item.plaintext.bytes);
    }
  }

  /** Encrypts the values under their keys, the values of one key together. */
  private async seal(wanted: Ready[]): Promise<void> {
    if (wanted.length === 0) return;
    const byKey = new Map<string, Ready[]>();
    // Most batches have one key, the same Binary for every value: no lookup per value then.
    if (wanted.every((item) => item.key === wanted[0].key)) byKey.set(hexOf(wanted[0].key), wanted);
    else for (const item of wanted) {
      const hex = hexOf(item.key);
      const same = byKey.get(hex);
      if (same) same.push(item); else byKey.set(hex, [item]);
    }
    const ids = [...byKey.values()].map((items) => items[0].key);
    const keys = this.keys.allCached(ids) ?? await this.keys.get(ids);
    for (const [hex, items] of byKey) {
      const key = keys.get(hex);
      try {
        if (key === undefined || key instanceof UnavailableKey) throw key?.error;
        const ciphertexts = encryptValues(key, items[0].key, items);
        for (let i = 0; i < items.length; i++) items[i].container[items[i].slot] = ciphertexts[i];
      } catch (err) {
        for (const item of items) item.fail(err);
      }
    }
  }
}

type Lookups = Map<Promise<Binary>, { id: Binary } | { error: unknown }>;

/** The distinct key lookups of the batch (a bulk load under one key has one), starting those still to start. */
function startLookups(batch: Item[]): Lookups {
  const keys: Lookups = new Map();
  for (const item of batch) {
    // A lookup started only now; the key vault's cache gives every value of one alt name the same promise.
    if (typeof item.keyId === 'function') item.keyId = item.keyId();
    const { keyId } = item;
    if (keyId instanceof Promise && !keys.has(keyId)) keys.set(keyId, { error: undefined });
  }
  return keys;
}

/** Waits once for each lookup; each gives its key's id or its error. */
async function settle(keys: Lookups): Promise<Lookups> {
  await Promise.all([...keys.keys()].map((lookup) => lookup.then((id) => keys.set(lookup, { id }), (error) => keys.set(lookup, { error }))));
  return keys;
}
