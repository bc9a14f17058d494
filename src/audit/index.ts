export { auditModel, type AuditReport, type PathAudit, type KeyUsage, type AuditOptions } from './audit';
export { formatAudit } from './format';
