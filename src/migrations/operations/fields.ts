import type { Document } from 'mongodb';
import { conforms, classifyValue } from '../../stored/classify';
import { KeyIndex } from '../../stored/keyIndex';
import { slotsAt } from '../../stored/values';
import { isEncryptedBinary } from '../../crypto/blob';
import { MigrationError } from '../../errors';
import { NO_ENTITY } from '../../metadata/resolve';
import type { KeyRef, ModelMetadata } from '../../metadata/types';
import { FieldEncryptor } from '../../repository/encoding/fieldEncryptor';
import { runBackfill } from '../backfill/backfill';
import { operationFingerprint } from '../checksum';
import { FieldRewrite, type RewriteTarget } from '../backfill/fieldRewrite';
import { ReplaceWriter, UpdateWriter, type BatchWriter } from '../backfill/writers';
import { describeKey } from '../../stored/keySpec';
import { keyRefOf } from '../keySpec';
import type { DecryptFieldOperation, EncryptFieldOperation } from '../types';
import { collectionOf, splitNamespace, type OperationHandler, type StepContext } from './context';

type FieldOperation = EncryptFieldOperation | DecryptFieldOperation;

function keyRef(op: EncryptFieldOperation, ctx: StepContext): KeyRef {
  return keyRefOf(op.key, { namespace: op.namespace, path: op.path }, ctx.client.registry);
}

function target(op: FieldOperation, ctx: StepContext): RewriteTarget {
  if (op.op === 'decryptField') return { kind: 'decrypt' };
  return {
    kind: 'encrypt',
    spec: { algorithm: op.algorithm, ...(op.bsonType ? { bsonType: op.bsonType } : {}), key: keyRef(op, ctx), inheritsModelKey: false },
  };
}

/** The configured model of the collection, or a stand-in named after it (only its name appears in messages). */
function modelFor(ctx: StepContext, namespace: string): ModelMetadata {
  const configured = ctx.client.registry.byNamespace(namespace);
  if (configured) return configured;
  const { db, collection } = splitNamespace(namespace);
  const target = function stored() {};
  Object.defineProperty(target, 'name', { value: namespace });
  return { target, fields: new Map(), db, collection, namespace, indexes: [], entity: NO_ENTITY };
}

function writeMode(ctx: StepContext): 'update' | 'replace' {
  return ctx.settings.backfillWrite === 'auto' ? (ctx.server.isFerretDb ? 'replace' : 'update') : ctx.settings.backfillWrite;
}

function replaceNote(ctx: StepContext): string {
  const why = ctx.server.isFerretDb ? 'because FerretDB scans the whole collection for every update statement' : "as configured (backfillWrite: 'replace')";
  return `documents are rewritten batch by batch (delete and re-insert through a journal), ${why}; stop writers to this collection while it runs`;
}

function writerFor(op: FieldOperation, ctx: StepContext): BatchWriter {
  const collection = collectionOf(ctx, op.namespace);
  return writeMode(ctx) === 'replace' ? new ReplaceWriter(collection, ctx.state.journal, op.namespace, ctx.step) : new UpdateWriter(collection);
}

/** Counts, without writing or decrypting, the values a backfill of this step would still rewrite. */
async function pendingValues(op: FieldOperation, ctx: StepContext): Promise<{ documents: number; pendingDocuments: number; plaintext: number; ciphertext: number }> {
  const segments = op.path.split('.');
  const keys = await KeyIndex.load(ctx.client.keyVault);
  const key = op.op === 'encryptField' ? keyRef(op, ctx) : undefined;
  const counts = { documents: 0, pendingDocuments: 0, plaintext: 0, ciphertext: 0 };
  const cursor = collectionOf(ctx, op.namespace).find({}, { promoteValues: false, batchSize: 1000 });
  for await (const doc of cursor as AsyncIterable<Document>) {
    counts.documents++;
    let pending = false;
    for (const slot of slotsAt(doc, segments)) {
      const needsWork = op.op === 'decryptField'
        ? isEncryptedBinary(slot.value)
        : !conforms(classifyValue(slot.value, { algorithm: op.algorithm, bsonType: op.bsonType, keyId: keys.expectedKeyId(key!, doc) }));
      if (!needsWork) continue;
      pending = true;
      if (isEncryptedBinary(slot.value)) counts.ciphertext++; else counts.plaintext++;
    }
    if (pending) counts.pendingDocuments++;
  }
  return counts;
}

function fieldHandler<O extends FieldOperation>(describe: (op: O) => string): OperationHandler<O> {
  return {
    describe,
    // The backfill itself skips what is done; scanning twice to find out would double the reads.
    async check() {
      return { done: false };
    },
    async preview(op, ctx) {
      const counts = await pendingValues(op, ctx);
      const top = op.path.split('.')[0];
      const lines = [
        `scan ${op.namespace} in batches of ${ctx.settings.batchSize} sorted by _id: ${counts.pendingDocuments} of ${counts.documents} document(s) have values to rewrite (${counts.plaintext} plaintext, ${counts.ciphertext} ciphertext to ${op.op === 'decryptField' ? 'decrypt' : 'decrypt and encrypt again'})`,
        ...(counts.pendingDocuments > 0 ? writerFor(op, ctx).describe(op.namespace, top) : []),
        ...(counts.pendingDocuments > 0 && writeMode(ctx) === 'replace' ? [`(${replaceNote(ctx)})`] : []),
      ];
      if (op.op === 'encryptField' && 'altName' in op.key && !(await KeyIndex.load(ctx.client.keyVault)).idOf(op.key.altName)) {
        lines.push(`the data key '${op.key.altName}' does not exist yet: it is created in the key vault first`);
      }
      return lines;
    },
    async execute(op, ctx) {
      if (writeMode(ctx) === 'replace') ctx.out(`     ${replaceNote(ctx)}`);
      const encryptor = new FieldEncryptor(modelFor(ctx, op.namespace), ctx.client.engine, ctx.client.keyVault);
      const result = await runBackfill({
        client: ctx.client,
        collection: collectionOf(ctx, op.namespace),
        namespace: op.namespace,
        step: ctx.step,
        fingerprint: operationFingerprint(op),
        rewrite: new FieldRewrite(op.namespace, op.path, target(op, ctx), encryptor),
        writer: writerFor(op, ctx),
        state: ctx.state,
        batchSize: ctx.settings.batchSize,
        progress: ctx.progress,
        assertLockHeld: ctx.assertLockHeld,
        out: ctx.out,
      });
      return `${result.changed} document(s) rewritten, ${result.processed} read`;
    },
    async verify(op, ctx) {
      const counts = await pendingValues(op, ctx);
      if (counts.plaintext + counts.ciphertext > 0) {
        throw new MigrationError('MIGRATION_POSTCHECK', `Post-check failed: after the backfill, ${counts.pendingDocuments} document(s) of ${op.namespace} still have ${counts.plaintext} plaintext and ${counts.ciphertext} ciphertext value(s) at ${op.path} not in the target form.`, {
          fix: 'documents written meanwhile by an application with other settings? Run the migration again (it only touches what is left), and audit the writers (strongbox audit).',
        });
      }
    },
  };
}

export const encryptField = fieldHandler<EncryptFieldOperation>((op) => `encrypt ${op.namespace}.${op.path} (${op.algorithm}, ${describeKey(op.key)})`);
export const decryptField = fieldHandler<DecryptFieldOperation>((op) => `decrypt ${op.namespace}.${op.path}`);
