import { randomBytes } from 'node:crypto';
import { BSON, type Binary, type ClientEncryption, type Document } from 'mongodb';
import { EncryptionError } from '../errors';
import { AEAD_KEY_BYTES, AeadKey } from './aead';
import { ALGORITHM_NAMES, hexAt } from './blob';
import { createNativeMongoCrypt, runContext, runWithKeys, type NativeMongoCrypt } from './driverInternals';
import { classifyCryptError } from './failures';
import { concealKey } from './masterKey';
import { encryptionPlaintext } from './plaintext';
import { encryptValues } from './valueCipher';
import { ownCopy, wipe } from '../bson/memory';

/** How long a data key stays unwrapped in memory: libmongocrypt's own key cache expiration. */
export const KEY_CACHE_MS = 60_000;

/** At most this many unwrapped keys are kept (per-document keys can be many); the oldest go first. */
const MAX_CACHED_KEYS = 10_000;

/** A data key that could not be had, with the error that kept it (a missing key, a master key that cannot unwrap it, an outage). */
export class UnavailableKey {
  constructor(readonly error: unknown) {}
}

/** A data key, ready to encrypt with, or why there is none. */
export type KeyMaterial = AeadKey | UnavailableKey;

/** The value both libmongocrypt and Strongbox encrypt, once per client, to prove they agree. */
const AGREEMENT_PROBE = 'strongbox: ciphers agree';

/**
 * The unwrapped data keys Strongbox encrypts with. libmongocrypt reads them from the key vault
 * and unwraps them with their KMS (AWS, Azure, GCP, KMIP or local), exactly as it does for its
 * own encryption, in a rewrap context (mongocrypt_ctx_rewrap_many_datakey_init) whose new
 * master key is a local key this object holds: the rewrapped keys are never written anywhere,
 * only unwrapped here. They live in this process's memory as long as libmongocrypt keeps a key
 * it fetched (KEY_CACHE_MS), so the KMS and the key vault see the same traffic as before, and a
 * deleted key stops encrypting as soon as it would with libmongocrypt alone.
 *
 * Before the first key is used, Deterministic encryption of a probe value by Strongbox and by
 * libmongocrypt must give the same bytes: if they ever differ (a libmongocrypt with another
 * ciphertext format), nothing is encrypted.
 */
export class UnwrappedKeys {
  private readonly crypt: NativeMongoCrypt;
  /** The local master key of the rewrap context: the user's own local master key when there is one, else a random one that never leaves this object. */
  private readonly wrappingKey: AeadKey;
  private readonly cache = new Map<string, { key: AeadKey; at: number }>();
  private readonly pending = new Map<string, Promise<AeadKey>>();
  private agreed = false;

  constructor(
    kmsProviders: Document,
    /** The driver's handle, as the key vault and KMS executor of libmongocrypt's state machine. */
    private readonly executor: ClientEncryption,
    private readonly kmsTlsOptions: Document,
  ) {
    const local = (kmsProviders.local as { key?: Buffer } | undefined)?.key ?? concealKey(randomBytes(AEAD_KEY_BYTES), 'wrapping key');
    this.wrappingKey = new AeadKey(local);
    this.crypt = createNativeMongoCrypt({ ...kmsProviders, local: { key: local } }, (d) => BSON.serialize(d));
  }

  /**
   * A key unwrapped less than KEY_CACHE_MS ago, without any traffic. Aged by the monotonic clock,
   * as libmongocrypt ages its own: a wall clock set back must not keep a deleted key alive.
   */
  cached(id: Binary): AeadKey | undefined {
    const entry = this.cache.get(hexOf(id));
    return entry && performance.now() - entry.at < KEY_CACHE_MS ? entry.key : undefined;
  }

  /** The keys, by hex id (hexOf), when every one is cached; otherwise undefined (see get). */
  allCached(ids: readonly Binary[]): Map<string, KeyMaterial> | undefined {
    const out = new Map<string, KeyMaterial>();
    for (const id of ids) {
      const key = this.cached(id);
      if (!key) return undefined;
      out.set(hexOf(id), key);
    }
    return out;
  }

  /**
   * The keys, by hex id (hexOf): each ready to encrypt with, or the error that kept it (a missing
   * key, a master key that cannot unwrap it, an unreachable KMS or key vault). Keys not cached
   * are fetched and unwrapped together, in one pass.
   */
  async get(ids: readonly Binary[]): Promise<Map<string, KeyMaterial>> {
    const out = new Map<string, KeyMaterial>();
    const missing: Binary[] = [];
    for (const id of ids) {
      const hex = hexOf(id);
      if (out.has(hex)) continue;
      const key = this.cached(id);
      if (key) out.set(hex, key);
      else {
        if (!this.pending.has(hex)) missing.push(id);
        out.set(hex, new UnavailableKey(undefined));
      }
    }
    if (missing.length) this.startUnwrap(missing);
    await Promise.all([...out.keys()].filter((hex) => this.pending.has(hex)).map((hex) => this.pending.get(hex)!.then(
      (key) => out.set(hex, key),
      (error: unknown) => out.set(hex, new UnavailableKey(error)),
    )));
    return out;
  }

  private startUnwrap(ids: Binary[]): void {
    const all = this.unwrapAll(ids);
    for (const id of ids) {
      const hex = hexOf(id);
      const one = all.then((found) => {
        const key = found.get(hex);
        if (key instanceof UnavailableKey) throw key.error;
        if (key) return key;
        throw new Error(`data key ${id.toUUID().toHexString()} not found in the key vault`);
      });
      // Rejections are read by get(); this keeps an unread one from being reported as unhandled.
      one.catch(() => undefined).finally(() => { if (this.pending.get(hex) === one) this.pending.delete(hex); });
      this.pending.set(hex, one);
    }
  }

  /**
   * Unwraps the keys in one context. When that fails, each key is tried alone, so a missing key
   * or one the master key cannot unwrap fails only its own values; an unreachable KMS or key
   * vault fails them all at once.
   */
  private async unwrapAll(ids: Binary[]): Promise<Map<string, KeyMaterial>> {
    const out = new Map<string, KeyMaterial>();
    try {
      for (const [hex, key] of await this.unwrap(ids)) out.set(hex, key);
    } catch (error) {
      const reason = classifyCryptError(error);
      if (ids.length > 1 && reason !== 'kms-unreachable' && reason !== 'key-vault-unreachable' && !(error instanceof EncryptionError)) {
        const alone = await Promise.all(ids.map((id) => this.unwrapAll([id])));
        for (const found of alone) for (const [hex, key] of found) out.set(hex, key);
      } else {
        for (const id of ids) out.set(hexOf(id), new UnavailableKey(error));
      }
    }
    return out;
  }

  private async unwrap(ids: Binary[]): Promise<Map<string, AeadKey>> {
    const context = this.crypt.makeRewrapManyDataKeyContext(BSON.serialize({ _id: { $in: ids } }), BSON.serialize({ provider: 'local' }));
    const rewrapped = BSON.deserialize(await runContext(this.executor, context, this.kmsTlsOptions), { promoteValues: false, promoteBuffers: false });
    const found = new Map<string, AeadKey>();
    const now = performance.now();
    for (const document of (rewrapped.v ?? []) as Document[]) {
      const id = document._id as Binary;
      const material = this.wrappingKey.decrypt((document.keyMaterial as Binary).buffer);
      // libmongocrypt wrapped it under our own key a moment ago: anything else is not a key.
      if (material?.length !== AEAD_KEY_BYTES) throw new Error(`HMAC validation failure: data key ${id.toUUID().toHexString()} did not unwrap to ${AEAD_KEY_BYTES} bytes`);
      const key = new AeadKey(concealKey(ownCopy(material), 'data key'));
      wipe(material);
      if (!this.agreed) this.checkAgreement(document, key);
      const hex = hexOf(id);
      found.set(hex, key);
      if (this.cache.size >= MAX_CACHED_KEYS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hex, { key, at: now });
    }
    return found;
  }

  /**
   * Once per client, with its first key: Strongbox's Deterministic ciphertext of a probe must
   * equal libmongocrypt's. libmongocrypt gets the key as just rewrapped under the local key its
   * handle holds, so the check costs no key vault read and no KMS call.
   */
  private checkAgreement(keyDocument: Document, key: AeadKey): void {
    const id = keyDocument._id as Binary;
    const [ours] = encryptValues(key, id, [{ algorithm: 'Deterministic', plaintext: encryptionPlaintext(AGREEMENT_PROBE, 'Deterministic') }]);
    const context = this.crypt.makeExplicitEncryptionContext(BSON.serialize({ v: AGREEMENT_PROBE }), { keyId: id.buffer, algorithm: ALGORITHM_NAMES.Deterministic, expressionMode: false });
    const theirs = BSON.deserialize(runWithKeys(context, [BSON.serialize(keyDocument)]), { promoteValues: false }).v as Binary;
    if (!Buffer.from(theirs.buffer).equals(Buffer.from(ours.buffer))) {
      throw new EncryptionError('ENCRYPT_CIPHER_MISMATCH', "Strongbox's encryption does not produce the ciphertext libmongocrypt does for the same value and key; nothing was encrypted or written.", {
        fix: 'install the mongodb-client-encryption version package.json names, and report the libmongocrypt version (strongbox doctor) to the Strongbox maintainers.',
      });
    }
    this.agreed = true;
  }
}

/** Ids by key object: a batch under one key (one Binary from the key vault's cache) spells it once. */
const hexes = new WeakMap<Binary, string>();

/** The key of maps by data key id. */
export function hexOf(id: Binary): string {
  let hex = hexes.get(id);
  if (hex === undefined) {
    hex = hexAt(id.buffer, 0, id.buffer.length);
    hexes.set(id, hex);
  }
  return hex;
}
