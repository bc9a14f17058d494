import { describeKey } from '../stored/keySpec';
import type { AuditReport, PathAudit } from './audit';

/** The audit as text for a terminal: one row per encrypted path, then keys, examples and the verdict. */
export function formatAudit(report: AuditReport): string[] {
  const rows = report.paths.map((p) => [
    p.path,
    `${p.expected.algorithm}${p.expected.bsonType ? ` ${p.expected.bsonType}` : ''}, ${describeKey(p.expected.key)}`,
    String(p.plaintext), String(p.deterministic), String(p.random), String(p.absent), mismatchText(p),
  ]);
  const header = ['path', 'model says', 'plaintext', 'Deterministic', 'Random', 'absent', 'disagreeing with the model'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}`.trimEnd();
  const out = [`Audit of ${report.namespace} (model ${report.model}): ${report.documents} document(s) scanned`, line(header)];
  for (let i = 0; i < rows.length; i++) {
    out.push(line(rows[i]));
    const p = report.paths[i];
    if (p.keys.length) out.push(`      keys: ${p.keys.map((k) => `${k.id}${k.altNames.length ? ` (${k.altNames.join(', ')})` : ''}${k.inKeyVault ? '' : ' NOT IN THE KEY VAULT'}: ${k.count}`).join('; ')}`);
    if (p.examples.length) out.push(`      e.g. _id ${p.examples.join(', ')}`);
  }
  if (report.paths.length === 0) out.push('  (the model encrypts no field)');
  for (const u of report.unexpected) out.push(`  ciphertext where the model expects none: ${u.path} (${u.count} document(s), e.g. _id ${u.examples.join(', ')})`);
  out.push(report.consistent ? 'Consistent: every value is stored as the model says.' : `Inconsistent: ${verdict(report)}.`);
  return out;
}

function mismatchText(p: PathAudit): string {
  const parts = [
    p.mismatch.algorithm ? `${p.mismatch.algorithm} other algorithm` : '',
    p.mismatch.key ? `${p.mismatch.key} other key` : '',
    p.mismatch.type ? `${p.mismatch.type} other type` : '',
    p.corrupt ? `${p.corrupt} corrupt` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : '-';
}

function verdict(report: AuditReport): string {
  const sum = (f: (p: PathAudit) => number) => report.paths.reduce((n, p) => n + f(p), 0);
  const parts = [
    [sum((p) => p.plaintext), 'plaintext value(s) of encrypted fields'],
    [sum((p) => p.mismatch.algorithm), 'value(s) with another algorithm than the model'],
    [sum((p) => p.mismatch.key), 'value(s) under another key than the model names'],
    [sum((p) => p.mismatch.type), 'value(s) of another type than declared'],
    [sum((p) => p.corrupt), 'corrupt ciphertext(s)'],
    [report.unexpected.reduce((n, u) => n + u.count, 0), 'document(s) with ciphertext at unencrypted paths'],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ');
}
