/**
 * `strongbox audit <model>`.
 */
import { auditModel } from '../../audit/audit';
import { formatAudit } from '../../audit/format';
import { repairPlan } from '../../audit/repair';
import { createClient } from '../../client/createClient';
import { ConfigError } from '../../errors';
import { writeMigrationFile } from '../../migrations/generator';
import { keySpecOf } from '../../migrations/keySpec';
import { migrationSettings } from '../../migrations/settings';
import { switchFlag, numberFlag, stringFlag } from './flags';
import type { Command } from './index';
import { migrationsSection } from './migration';

const HELP = `Usage: strongbox audit <Model | db.collection> [--json] [--limit N] [--repair-migration NAME]

Scans the collection and reports, per encrypted path, how many values are plaintext,
Deterministic or Random, which data keys they name, and which disagree with the model (another
algorithm, another key, another type). Reads ciphertext headers only: nothing is decrypted.
Exit code 1 when anything disagrees.

  --repair-migration NAME  also write a migration that re-encrypts what disagrees (and encrypts
                           plaintext): review it, compile it, run \`strongbox migration up\`.`;

export const auditCommand: Command = {
  summary: 'report how each encrypted field is really stored, and what disagrees with the model',
  help: HELP,
  async run(context) {
    const json = switchFlag(context, 'json');
    const [target] = context.args.positional;
    if (!target) { context.err(HELP); return 2; }
    const config = await context.config();
    const client = await createClient(config);
    try {
      const model = [...client.registry].find((m) => m.target.name === target || m.namespace === target);
      if (!model) {
        throw new ConfigError('CLI_AUDIT_MODEL', `No configured model is named ${target} or stored in ${target}.`, {
          fix: `use one of ${[...client.registry].map((m) => `${m.target.name} (${m.namespace})`).join(', ') || '(no models configured)'}.`,
        });
      }
      const limit = numberFlag(context, 'limit');
      const report = await auditModel(client, model, limit === undefined ? {} : { limit });
      // Key references print as migrations write them ({ altName }, { id }, …).
      if (json) context.out(JSON.stringify(report, (k, v) => (k === 'key' && v && typeof v === 'object' && 'kind' in v ? keySpecOf(v) : v), 2));
      else for (const line of formatAudit(report)) context.out(line);
      const repairName = stringFlag(context, 'repair-migration');
      if (repairName) {
        const plan = repairPlan(report);
        if (plan.up.length === 0) context.out('Nothing to repair by re-encryption: no migration written.');
        else {
          const settings = migrationSettings(migrationsSection(config));
          const created = writeMigrationFile({ folder: settings.folder, name: repairName, plan, command: `strongbox audit ${target} --repair-migration ${repairName}`, importFrom: settings.importFrom });
          context.out(`Wrote ${created.file}: compile it, then run \`strongbox migration up\`.`);
        }
      }
      return report.consistent ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
