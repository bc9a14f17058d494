import { MongoCryptError, type ClientEncryption, type Document } from 'mongodb';
import { SetupError } from '../errors';

/**
 * The driver's public ClientEncryption runs one libmongocrypt context per value, with the
 * AES/HMAC work called back into JavaScript. Strongbox needs what it does not offer: decrypting
 * a whole batch of documents in one context, unwrapping data keys for its own encryption
 * (dataKeys.ts), and libmongocrypt's native (OpenSSL) crypto, which measured 4–5× faster here.
 * These come from the binding plus the driver's key/KMS state machine, an internal module of the
 * pinned driver version (package.json pins it exactly).
 */
export interface CryptContext {
  readonly status: { message?: string };
  readonly state: number;
  addMongoOperationResponse(bson: Uint8Array): void;
  finishMongoOperation(): void;
  finalize(): Uint8Array | null;
}
export interface NativeMongoCrypt {
  makeExplicitEncryptionContext(value: Uint8Array, options: { keyId: Uint8Array; algorithm: string; expressionMode: boolean }): CryptContext;
  makeRewrapManyDataKeyContext(filter: Uint8Array, keyEncryptionKey: Uint8Array): CryptContext;
  makeDecryptionContext(bson: Uint8Array): CryptContext;
  makeExplicitDecryptionContext(bson: Uint8Array): CryptContext;
}
interface StateMachineLike { execute(executor: ClientEncryption, context: CryptContext, options: object): Promise<Uint8Array>; }

let stateMachineClass: (new (options: object) => StateMachineLike) | undefined;

function loadStateMachine(): new (options: object) => StateMachineLike {
  if (!stateMachineClass) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      stateMachineClass = require('mongodb/lib/client-side-encryption/state_machine').StateMachine;
    } catch (err) {
      throw new SetupError('SETUP_DRIVER_INTERNALS', 'The installed mongodb driver lacks lib/client-side-encryption/state_machine.', {
        fix: 'install the driver version pinned in package.json (npm ci).',
        cause: err,
      });
    }
  }
  return stateMachineClass!;
}

/**
 * A libmongocrypt handle using native crypto, falling back to the driver's JavaScript crypto
 * callbacks when this libmongocrypt build has none.
 */
export function createNativeMongoCrypt(kmsProviders: Document, serialize: (doc: Document) => Uint8Array): NativeMongoCrypt {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const MongoCrypt = require('mongodb-client-encryption').MongoCrypt as new (options: object) => NativeMongoCrypt;
  const options = { kmsProviders: serialize(kmsProviders) };
  try {
    return new MongoCrypt(options);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cryptoCallbacks = require('mongodb/lib/client-side-encryption/crypto_callbacks');
    return new MongoCrypt({ ...options, cryptoCallbacks });
  }
}

/** libmongocrypt's context states (mongocrypt_ctx_state_t) that runContext and runWithKeys handle themselves. */
const CTX_ERROR = 0;
const CTX_NEED_MONGO_KEYS = 3;
const CTX_READY = 5;

/**
 * Runs a context whose data keys are given, wrapped under a local master key its handle holds:
 * no key vault read, no KMS. Throws when the context wants anything else.
 */
export function runWithKeys(context: CryptContext, keyDocuments: readonly Uint8Array[]): Uint8Array {
  if (context.state === CTX_NEED_MONGO_KEYS) {
    for (const document of keyDocuments) context.addMongoOperationResponse(document);
    context.finishMongoOperation();
  }
  if (context.state !== CTX_READY) throw new MongoCryptError(context.status.message || `libmongocrypt wanted more than the given keys (state ${context.state})`);
  return runContext(undefined as never, context, {}) as Uint8Array;
}

/**
 * Runs a context to completion, fetching keys from the key vault and talking to KMS as needed.
 * A context whose keys libmongocrypt already holds (its key cache keeps them for a minute) is
 * ready at once: it is finalized here, without the driver's asynchronous state machine, which
 * costs a measurable share of a single-document write.
 */
export function runContext(executor: ClientEncryption, context: CryptContext, tlsOptions: Document): Uint8Array | Promise<Uint8Array> {
  if (context.state === CTX_READY) {
    const result = context.finalize();
    // As the driver's state machine reports a failed finalization.
    if ((context.state as number) === CTX_ERROR || result == null) throw new MongoCryptError(context.status.message || 'Finalization error');
    return result;
  }
  const StateMachine = loadStateMachine();
  return new StateMachine({ proxyOptions: {}, tlsOptions }).execute(executor, context, {});
}
