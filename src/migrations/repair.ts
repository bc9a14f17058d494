import type { AuditReport } from '../audit/audit';
import type { MigrationPlan } from './plan';

/**
 * A migration that repairs what an audit found: for every path holding plaintext, or
 * ciphertext under another algorithm or key than the model says, an encryptField step, which
 * re-encrypts exactly those values and skips the rest. There is no down: the inconsistent
 * state is not worth restoring.
 */
export function repairPlan(report: AuditReport): MigrationPlan {
  const plan: MigrationPlan = { up: [], down: [], notes: [] };
  for (const p of report.paths) {
    const wrong = p.plaintext + p.mismatch.algorithm + p.mismatch.key;
    if (p.mismatch.type) plan.notes.push(`${report.namespace}.${p.path}: ${p.mismatch.type} value(s) hold another type than declared; encryption cannot change a value's type, so they are left to fix by hand.`);
    if (wrong === 0) continue;
    plan.up.push({
      operation: {
        op: 'encryptField', namespace: report.namespace, path: p.path, algorithm: p.expected.algorithm,
        ...(p.expected.bsonType ? { bsonType: p.expected.bsonType } : {}),
        key: p.expected.key,
      },
      comment: `Repair found by audit: ${p.plaintext} plaintext, ${p.mismatch.algorithm} with another algorithm, ${p.mismatch.key} under another key. Values already right are skipped.`,
    });
  }
  for (const u of report.unexpected) plan.notes.push(`${report.namespace}.${u.path} holds ciphertext in ${u.count} document(s) although the model does not encrypt it; add { op: 'decryptField', namespace: '${report.namespace}', path: '${u.path}' } if it should be plaintext.`);
  if (plan.up.length) plan.notes.push('A repair has no down steps: the inconsistent state it fixes is not restored.');
  return plan;
}
