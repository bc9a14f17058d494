/**
 * `strongbox audit <model>`.
 */
import { auditCollection } from '../../audit/audit';
import { formatAudit } from '../../audit/format';
import { createClient } from '../../client/createClient';
import type { StrongboxClient } from '../../client/strongboxClient';
import type { ModelMetadata } from '../../metadata/types';
import { ConfigError } from '../../errors';
import { writeMigrationFile } from '../../migrations/generator';
import { repairPlan } from '../../migrations/repair';
import { migrationSettings } from '../../migrations/settings';
import { switchFlag, numberFlag, stringFlag } from './flags';
import type { Command } from './command';
import { migrationsSection } from './migration';

const HELP = `Usage: strongbox audit [Model | db.collection] [--json] [--limit N] [--repair-migration NAME]

Without a model, audits every configured model. Scans the collection and reports, per encrypted path, how many values are plaintext,
Deterministic or Random, which data keys they name, and which disagree with the model (another
algorithm, another key, another type). Reads ciphertext headers only: nothing is decrypted.
Exit code 1 when anything disagrees.

  --json                   the report as JSON: one object for one model, an array without a model
  --repair-migration NAME  also write a migration that re-encrypts what disagrees (and encrypts
                           plaintext): review it, compile it, run \`strongbox migration up\`.`;

export const auditCommand: Command = {
  summary: 'report how each encrypted field is really stored, and what disagrees with the model',
  help: HELP,
  async run(context) {
    const json = switchFlag(context, 'json');
    const [target] = context.args.positional;
    const repairName = stringFlag(context, 'repair-migration');
    if (repairName && !target) {
      throw new ConfigError('CLI_AUDIT_REPAIR_MODEL', '--repair-migration writes one migration for one model, and no model was given.', { fix: `strongbox audit Person --repair-migration ${repairName}` });
    }
    const limit = numberFlag(context, 'limit');
    const config = await context.config();
    const client = await createClient(config);
    try {
      const models = target ? [chooseModel(client, target)] : [...client.registry];
      const reports = [];
      for (const model of models) reports.push(await auditCollection(client, model, limit === undefined ? {} : { limit }));
      // Key references print as migrations write them ({ altName }, { id }, …).
      if (json) context.out(JSON.stringify(target ? reports[0] : reports, null, 2));
      else for (const [i, report] of reports.entries()) {
        if (i > 0) context.out('');
        for (const line of formatAudit(report)) context.out(line);
      }
      if (repairName) {
        const plan = repairPlan(reports[0]!);
        if (plan.up.length === 0) context.out('Nothing to repair by re-encryption: no migration written.');
        else {
          const settings = migrationSettings(migrationsSection(config));
          const created = writeMigrationFile({ folder: settings.folder, name: repairName, plan, command: `strongbox audit ${target} --repair-migration ${repairName}`, importFrom: settings.importFrom });
          context.out(`Wrote ${created.file}: compile it, then run \`strongbox migration up\`.`);
        }
      }
      return reports.every((report) => report.consistent) ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};

function chooseModel(client: StrongboxClient, target: string): ModelMetadata {
  const model = [...client.registry].find((m) => m.target.name === target || m.namespace === target);
  if (!model) {
    throw new ConfigError('CLI_AUDIT_MODEL', `No configured model is named ${target} or stored in ${target}.`, {
      fix: `use one of ${[...client.registry].map((m) => `${m.target.name} (${m.namespace})`).join(', ') || '(no models configured)'}, or no model to audit them all.`,
    });
  }
  return model;
}
