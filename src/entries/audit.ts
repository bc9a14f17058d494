/**
 * `strongbox/audit`: what is really stored in a model's collection, compared with the model
 * (the CLI's `strongbox audit` does the same), and the migration that repairs what it finds.
 */
export { auditModel, type AuditReport, type PathAudit, type KeyUsage, type AuditOptions } from '../audit/audit';
export { formatAudit } from '../audit/format';
export { repairPlan } from '../migrations/repair';
export type { MigrationPlan, PlannedStep } from '../migrations/plan';
