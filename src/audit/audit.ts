import type { Document } from 'mongodb';
import { idText, isPlainDocument } from '../bson/documents';
import type { StrongboxClient } from '../client/strongboxClient';
import { isEncryptedBinary } from '../crypto/blob';
import type { Algorithm, BsonType, KeyRef, ModelMetadata } from '../metadata/types';
import { buildEncryptionPlan } from '../schema/encryptionPlan';
import { classifyValue } from '../stored/classify';
import { KeyIndex } from '../stored/keyIndex';
import { keySpecOf, type KeySpec } from '../stored/keySpec';
import { slotsAt } from '../stored/values';

/** One data key the values of a path name, how often, and whether the key vault still has it. */
export interface KeyUsage {
  id: string;
  altNames: string[];
  count: number;
  /** False when the key vault has no such key (deleted, or another key vault's). */
  inKeyVault: boolean;
}

/** The audit of one encrypted path: how its stored values are encrypted, and how many disagree with the model. */
export interface PathAudit {
  path: string;
  /** What the model says: the algorithm, the declared type and the data key (in the form migration files use). */
  expected: { algorithm: Algorithm; bsonType?: BsonType; key: KeySpec };
  /** Documents (or array elements) with no value, or null: nothing to encrypt. */
  absent: number;
  plaintext: number;
  deterministic: number;
  random: number;
  /** Subtype-6 values whose header is not a ciphertext's. */
  corrupt: number;
  keys: KeyUsage[];
  mismatch: {
    /** Ciphertext of the other algorithm than the model's. */
    algorithm: number;
    /** Ciphertext under another key than the one the model names for that document. */
    key: number;
    /** Ciphertext whose plaintext type differs from the declared bsonType. */
    type: number;
  };
  /** `_id`s of a few documents with plaintext or a mismatch, to look at. */
  examples: string[];
}

/** What auditModel found in one model's collection. */
export interface AuditReport {
  namespace: string;
  model: string;
  documents: number;
  paths: PathAudit[];
  /**
   * Ciphertext found at paths the model does not encrypt (left over after a decryption, or copied
   * there by another writer), with the `_id`s of a few such documents. Repositories refuse to
   * decrypt these values (DECRYPT_MISPLACED).
   */
  unexpected: Array<{ path: string; count: number; examples: string[] }>;
  /** Nothing plaintext, mismatching, corrupt or unexpected. */
  consistent: boolean;
}

/** Options of auditModel. */
export interface AuditOptions {
  /** Stop after this many documents (default: the whole collection). */
  limit?: number;
  /** How many example `_id`s per path (default 5). */
  examples?: number;
}

/**
 * Scans a model's collection and reports, per encrypted path, what is really stored: how many
 * values are plaintext, Deterministic, Random, under which keys, and which disagree with the
 * model. Reads ciphertext headers only; decrypts nothing, writes nothing. The model is a class
 * of the client's configuration (`MODEL_NOT_REGISTERED` otherwise).
 */
export function auditModel(client: StrongboxClient, model: abstract new (...args: never[]) => object, options: AuditOptions = {}): Promise<AuditReport> {
  return auditCollection(client, client.registry.get(model), options);
}

/** auditModel for a model already resolved from the registry (the CLI and the migrations' baseline audit every configured model). */
export async function auditCollection(client: StrongboxClient, model: ModelMetadata, options: AuditOptions = {}): Promise<AuditReport> {
  const keys = await KeyIndex.load(client.keyVault);
  const plan = buildEncryptionPlan(model);
  const tallies = plan.paths.map((p) => new PathTally(p.path, p.key, { algorithm: p.algorithm, ...(p.bsonType ? { bsonType: p.bsonType } : {}), key: keySpecOf(p.key) }, keys, options.examples ?? 5));
  const encryptedPaths = new Set(plan.paths.map((p) => p.path.join('.')));
  const unexpected = new Map<string, { count: number; examples: string[] }>();
  const cursor = client.dataClient.db(model.db).collection(model.collection)
    .find({}, { promoteValues: false, batchSize: 1000, ...(options.limit ? { limit: options.limit } : {}) });
  let documents = 0;
  for await (const doc of cursor) {
    documents++;
    for (const tally of tallies) tally.add(doc);
    for (const path of ciphertextPaths(doc, '')) {
      if (encryptedPaths.has(path)) continue;
      const entry = unexpected.get(path) ?? { count: 0, examples: [] };
      entry.count++;
      if (entry.examples.length < (options.examples ?? 5)) entry.examples.push(idText(doc._id));
      unexpected.set(path, entry);
    }
  }
  const paths = tallies.map((t) => t.result());
  const unexpectedList = [...unexpected].map(([path, { count, examples }]) => ({ path, count, examples }));
  return {
    namespace: model.namespace,
    model: model.target.name,
    documents,
    paths,
    unexpected: unexpectedList,
    consistent: unexpectedList.length === 0 && paths.every((p) => p.plaintext + p.corrupt + p.mismatch.algorithm + p.mismatch.key + p.mismatch.type === 0),
  };
}

class PathTally {
  private readonly audit: PathAudit;
  private readonly keyCounts = new Map<string, number>();

  constructor(
    private readonly segments: string[], private readonly key: KeyRef, expected: PathAudit['expected'],
    private readonly keys: KeyIndex, private readonly maxExamples: number,
  ) {
    this.audit = {
      path: segments.join('.'), expected, absent: 0, plaintext: 0, deterministic: 0, random: 0, corrupt: 0, keys: [],
      mismatch: { algorithm: 0, key: 0, type: 0 }, examples: [],
    };
  }

  add(doc: Document): void {
    const slots = slotsAt(doc, this.segments);
    if (slots.length === 0) this.audit.absent++;
    let notable = false;
    for (const slot of slots) {
      const finding = classifyValue(slot.value, {
        algorithm: this.audit.expected.algorithm,
        bsonType: this.audit.expected.bsonType,
        keyId: this.keys.expectedKeyId(this.key, doc),
      });
      switch (finding.state) {
        case 'absent': this.audit.absent++; break;
        case 'plaintext': this.audit.plaintext++; notable = true; break;
        case 'corrupt': this.audit.corrupt++; notable = true; break;
        case 'encrypted':
          if (finding.info.algorithm === 'Deterministic') this.audit.deterministic++; else this.audit.random++;
          this.keyCounts.set(finding.info.keyId, (this.keyCounts.get(finding.info.keyId) ?? 0) + 1);
          if (finding.wrongAlgorithm) this.audit.mismatch.algorithm++;
          if (finding.wrongKey) this.audit.mismatch.key++;
          if (finding.wrongType) this.audit.mismatch.type++;
          notable ||= finding.wrongAlgorithm || finding.wrongKey || finding.wrongType;
      }
    }
    if (notable && this.audit.examples.length < this.maxExamples) this.audit.examples.push(idText(doc._id));
  }

  result(): PathAudit {
    const keys = [...this.keyCounts].map(([id, count]) => {
      const entry = this.keys.get(id);
      return { id, altNames: entry?.altNames ?? [], count, inKeyVault: entry !== undefined };
    }).sort((a, b) => b.count - a.count);
    return { ...this.audit, keys };
  }
}

/** Dotted paths (array positions left out) of every subtype-6 value in a document. */
function ciphertextPaths(value: unknown, path: string): string[] {
  if (isEncryptedBinary(value)) return [path];
  if (Array.isArray(value)) return value.flatMap((v) => ciphertextPaths(v, path));
  if (isPlainDocument(value)) return Object.entries(value).flatMap(([k, v]) => ciphertextPaths(v, path ? `${path}.${k}` : k));
  return [];
}
