/**
 * Shared by the fault tests: a model whose encrypted fields all derive from a plain version
 * number (so a half-applied write would show as fields that disagree), a check of what the
 * server really stores, and the classification of errors an outage may produce.
 */
import { randomBytes } from 'node:crypto';
import { Binary, MongoNetworkError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError, type Document, type ObjectId } from 'mongodb';
import { DecryptionError, EncryptionError, KeyError } from '../../src/errors';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';

export function defineAccount(db: string, keyAltName = 'accounts') {
  @Model({ db, collection: 'accounts', keyAltName })
  class Account {
    @Id() _id!: ObjectId;
    @Field() owner!: string;
    @Field({ bsonType: 'int' }) version!: number;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'int' }) balance!: Random<number>;
  }
  return Account;
}

/** One data key per tenant, named by the document's `tenant` field: a new tenant needs a new key. */
export function defineTenantRecord(db: string) {
  @Model({ db, collection: 'records' })
  class TenantRecord {
    @Id() _id!: ObjectId;
    @Field() tenant!: string;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant' }) secret!: Random<string>;
  }
  return TenantRecord;
}

/** A distinctive plaintext that can only appear in a command or stored document if it leaked. */
export const labelledSecret = (label: string) => `«${label}-${randomBytes(4).toString('hex')}»`;

/** Per-run random salt: a plaintext can only be found in a command or a stored document if it leaked. */
const salt = randomBytes(4).toString('hex');

/** The encrypted values of an account at a version; each one is distinct and recognisable. */
export function secretsOf(owner: string, version: number) {
  return {
    email: `${owner}.v${version}.${salt}@example.invalid`,
    note: `«note ${owner} v${version} ${salt}»`,
    balance: 1_000 + version,
  };
}

export const ENCRYPTED_FIELDS = ['email', 'note', 'balance'] as const;

/**
 * What the server holds for one stored account: every encrypted field present and BinData
 * subtype 6 (never plaintext, never missing: each write sets all of them at once).
 */
export function storedProblems(doc: Document): string[] {
  const problems: string[] = [];
  for (const field of ENCRYPTED_FIELDS) {
    const value = doc[field];
    if (!(value instanceof Binary) || value.sub_type !== 6) problems.push(`${String(doc._id)}.${field} is ${value === undefined ? 'missing' : `stored as ${typeof value}`}`);
  }
  if (typeof doc.owner !== 'string' || typeof doc.version !== 'number') problems.push(`${String(doc._id)} lacks its plain fields`);
  return problems;
}

/** Whether a decrypted account is exactly what its version says was written. */
export function consistent(account: { owner: string; version: number; email: string; note: string; balance: number }): boolean {
  const expected = secretsOf(account.owner, account.version);
  return account.email === expected.email && account.note === expected.note && account.balance === expected.balance;
}

/**
 * An outage may surface as the driver's network/server-selection errors (the operation can be
 * retried) or as a Strongbox error naming the unreachable key vault. Anything else is a bug.
 */
export function isRetryableOutageError(err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError || err instanceof MongoNotConnectedError || err instanceof MongoTopologyClosedError) return true;
  if (err instanceof EncryptionError || err instanceof KeyError || err instanceof DecryptionError) return /key vault|unreachable|could not be read/i.test(err.message);
  return false;
}

/** A short description for assertion messages: class, code and the first line. */
export function describeError(err: unknown): string {
  const e = err as Error & { code?: unknown };
  return `${e?.constructor?.name ?? typeof err}${e?.code !== undefined ? ` ${String(e.code)}` : ''}: ${String(e?.message ?? err).split('\n')[0]}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
