/**
 * `strongbox keys ensure | list | rotate | delete`.
 */
import { createClient } from '../../client/createClient';
import { resolveEnvironment } from '../../client/config';
import type { StrongboxClient } from '../../client/strongboxClient';
import { loadLocalMasterKey } from '../../crypto/masterKey';
import { ConfigError } from '../../errors';
import { deleteKey, keyDeletionImpact, type KeyDeletionImpact } from '../../keys/delete';
import { ensureModelKeys, listKeys, type KeySelector } from '../../keys/keys';
import { rewrapKeys, rotateLocalMasterKey } from '../../keys/rotate';
import { stringFlag, switchFlag } from './flags';
import type { Command, CommandContext } from './index';

const HELP = `Usage:
  strongbox keys ensure
      Creates the data key of every key alt name the models name (idempotent).
  strongbox keys list [--json]
      Every data key: id, alt names, master key (provider and description), dates, model paths using it.
  strongbox keys rotate [--alt-name A,B | --id UUID,UUID] --new-local-key-file FILE
      Rewraps local data keys under a new local master key (the current one comes from kms.local).
      Afterwards point kms.local at the new key everywhere.
  strongbox keys rotate [--alt-name A,B | --id UUID,UUID] --to-provider PROVIDER [--master-key JSON]
      Rewraps data keys under another KMS provider or master key (rewrapManyDataKey); kms must
      configure both the current and the new provider. Example:
        --to-provider aws --master-key '{"region":"eu-west-1","key":"arn:aws:kms:…"}'
  strongbox keys delete (--alt-name A | --id UUID) [--confirm]
      Crypto-shredding: everything encrypted with the key becomes unreadable for good. Without
      --confirm it only reports how many documents of the configured models it would affect.`;

export const keysCommand: Command = {
  summary: 'create, list, rotate and delete (crypto-shred) data keys',
  help: HELP,
  async run(context) {
    const [sub, ...rest] = context.args.positional;
    context.args.positional = rest;
    if (!sub || !['ensure', 'list', 'rotate', 'delete'].includes(sub)) {
      context.err(sub ? `strongbox keys: unknown subcommand "${sub}".\n\n${HELP}` : HELP);
      return 2;
    }
    const config = await context.config();
    const client = await createClient(config);
    try {
      switch (sub) {
        case 'ensure': return await ensure(context, client);
        case 'list': return await list(context, client);
        case 'rotate': return await rotate(context, client, config);
        default: return await remove(context, client);
      }
    } finally {
      await client.close();
    }
  },
};

async function ensure(context: CommandContext, client: StrongboxClient): Promise<number> {
  const keys = await ensureModelKeys(client);
  if (keys.length === 0) context.out('The models name no key by alt name.');
  for (const k of keys) context.out(`  ${k.created ? 'created' : 'exists '}  ${k.id}  ${k.altName}`);
  return 0;
}

async function list(context: CommandContext, client: StrongboxClient): Promise<number> {
  const keys = await listKeys(client);
  if (switchFlag(context, 'json')) {
    context.out(JSON.stringify(keys, null, 2));
    return 0;
  }
  if (keys.length === 0) context.out('The key vault holds no data keys.');
  for (const k of keys) {
    const { provider, ...masterKey } = k.masterKey;
    context.out(`${k.id}  ${k.altNames.join(', ') || '(no alt name)'}`);
    context.out(`    master key: ${provider}${Object.keys(masterKey).length ? ` ${JSON.stringify(masterKey)}` : ''}; created ${k.creationDate?.toISOString() ?? '?'}${k.updateDate && k.updateDate.getTime() !== k.creationDate?.getTime() ? `, rewrapped ${k.updateDate.toISOString()}` : ''}`);
    context.out(`    used by: ${k.usedBy.join(', ') || 'no configured model (by alt name)'}`);
  }
  return 0;
}

function selectors(context: CommandContext): KeySelector[] {
  const names = (stringFlag(context, 'alt-name') ?? '').split(',').filter(Boolean).map((altName) => ({ altName }));
  const ids = (stringFlag(context, 'id') ?? '').split(',').filter(Boolean).map((id) => ({ id }));
  return [...names, ...ids];
}

async function rotate(context: CommandContext, client: StrongboxClient, config: Awaited<ReturnType<CommandContext['config']>>): Promise<number> {
  const chosen = selectors(context);
  const newKeyFile = stringFlag(context, 'new-local-key-file');
  const provider = stringFlag(context, 'to-provider');
  if (Boolean(newKeyFile) === Boolean(provider)) {
    throw new ConfigError('CLI_ROTATE_TARGET', 'keys rotate needs exactly one of --new-local-key-file and --to-provider.', { fix: 'rotate to a new local master key with --new-local-key-file FILE, or to another provider with --to-provider NAME [--master-key JSON] (strongbox keys --help).' });
  }
  const scope = chosen.length ? `${chosen.length} selected key(s)` : 'every key';
  let result;
  if (newKeyFile) {
    if (!config.kms.local) throw new ConfigError('CLI_ROTATE_NO_LOCAL', 'kms.local is not configured, so there is no current local master key to rotate from.', { fix: 'configure kms.local with the current key.' });
    const keyContext = { environment: resolveEnvironment(config), warn: (m: string) => context.err(m) };
    const current = loadLocalMasterKey(config.kms.local, keyContext);
    const next = loadLocalMasterKey({ keyFile: newKeyFile }, keyContext);
    result = await rotateLocalMasterKey(client, { current, next }, chosen);
    current.fill(0);
    next.fill(0);
    context.out(`Rewrapped ${result.rewrapped.length} local data key(s) (${scope}) under the new master key${result.alreadyDone.length ? `; ${result.alreadyDone.length} were already under it` : ''}.`);
    context.out(`Now configure kms.local with ${newKeyFile} wherever Strongbox runs; the old key no longer opens these data keys.`);
  } else {
    const masterKeyJson = stringFlag(context, 'master-key');
    let masterKey;
    try {
      masterKey = masterKeyJson ? JSON.parse(masterKeyJson) : undefined;
    } catch {
      throw new ConfigError('CLI_ROTATE_MASTER_KEY', '--master-key is not valid JSON.', { fix: `write it like '{"region":"eu-west-1","key":"arn:aws:kms:…"}'.` });
    }
    result = await rewrapKeys(client, { provider: provider!, masterKey }, chosen);
    context.out(`Rewrapped ${result.rewrapped.length} data key(s) (${scope}) under the ${provider} provider.`);
  }
  for (const id of result.rewrapped) context.out(`  ${id}`);
  return 0;
}

async function remove(context: CommandContext, client: StrongboxClient): Promise<number> {
  const chosen = selectors(context);
  if (chosen.length !== 1) throw new ConfigError('CLI_DELETE_KEY', 'keys delete needs exactly one key: --alt-name NAME or --id UUID.', { fix: 'strongbox keys delete --alt-name old-tenant --confirm' });
  if (!switchFlag(context, 'confirm')) {
    const impact = await keyDeletionImpact(client, chosen[0]);
    report(context, impact, 'would make');
    context.out('Nothing was deleted. Re-run with --confirm to delete the key; this cannot be undone.');
    return 1;
  }
  const impact = await deleteKey(client, chosen[0], { confirm: true });
  report(context, impact, 'made');
  context.out(`Deleted data key ${impact.id}. Clients that used it within the last minute may still hold it in their key cache until it expires.`);
  return 0;
}

function report(context: CommandContext, impact: KeyDeletionImpact, verb: string): void {
  context.out(`Data key ${impact.id} (${impact.altNames.join(', ') || 'no alt name'}): deleting it ${verb} ${impact.documents} document(s) of the configured models unreadable for good.`);
  for (const c of impact.collections) context.out(`  ${c.namespace}: ${c.documents} document(s), ${c.values} value(s)`);
  context.out('  (other collections and backups are not scanned)');
}
