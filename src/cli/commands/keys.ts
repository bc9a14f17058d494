/**
 * `strongbox keys ensure | list | show | create | add-alt-name | remove-alt-name | rotate | delete`.
 */
import { createClient } from '../../client/createClient';
import { resolveEnvironment } from '../../client/config';
import type { StrongboxClient } from '../../client/strongboxClient';
import { loadLocalMasterKey } from '../../crypto/masterKey';
import { ConfigError } from '../../errors';
import { deleteKey, keyDeletionImpact, type KeyDeletionImpact } from '../../keys/delete';
import { ensureModelKeys, listKeys, type KeyDescription, type KeySelector } from '../../keys/keys';
import { addKeyAltName, createKey, getKey, removeKeyAltName } from '../../keys/manage';
import type { MasterKeyDescription } from '../../config/strongboxConfig';
import { readFileSync } from 'node:fs';
import { rewrapKeys, rotateLocalMasterKey } from '../../keys/rotate';
import { stringFlag, switchFlag } from './flags';
import type { Command, CommandContext } from './command';

const HELP = `Usage:
  strongbox keys ensure
      Creates the data key of every key alt name the models name (idempotent).
  strongbox keys list [--json]
      Every data key: id, alt names, master key (provider and description), dates, model paths using it.
  strongbox keys show (--alt-name A | --id UUID) [--json]
      One data key, as in list.
  strongbox keys create --alt-name A[,B] [--master-key JSON] [--key-material-file FILE]
      Creates a data key with these alt names (each must be free), wrapped by the configured
      master key or by --master-key '{"provider":"aws","region":"eu-west-1","key":"arn:aws:kms:…"}'.
      --key-material-file: the 96 bytes of the data key (raw or base64) instead of random ones.
  strongbox keys add-alt-name (--alt-name A | --id UUID) NEW_NAME
      Adds an alt name to a key; refused when another key has it.
  strongbox keys remove-alt-name [--id UUID] NAME [--force]
      Removes an alt name from the key that has it (or from --id). Refused without --force
      when a configured model names it.
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
  summary: 'create, list, show, name, rotate and delete (crypto-shred) data keys',
  help: HELP,
  async run(context) {
    const [sub, ...rest] = context.args.positional;
    context.args.positional = rest;
    if (!sub || !['ensure', 'list', 'show', 'create', 'add-alt-name', 'remove-alt-name', 'rotate', 'delete'].includes(sub)) {
      context.err(sub ? `strongbox keys: unknown subcommand "${sub}".\n\n${HELP}` : HELP);
      return 2;
    }
    const config = await context.config();
    const client = await createClient(config);
    try {
      switch (sub) {
        case 'ensure': return await ensure(context, client);
        case 'list': return await list(context, client);
        case 'show': return await show(context, client);
        case 'create': return await create(context, client);
        case 'add-alt-name': return await addAltName(context, client);
        case 'remove-alt-name': return await removeAltName(context, client);
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
  for (const k of keys) printKey(context, k);
  return 0;
}

function printKey(context: CommandContext, k: KeyDescription): void {
  const { provider, ...masterKey } = k.masterKey;
  context.out(`${k.id}  ${k.altNames.join(', ') || '(no alt name)'}`);
  context.out(`    master key: ${provider}${Object.keys(masterKey).length ? ` ${JSON.stringify(masterKey)}` : ''}; created ${k.creationDate?.toISOString() ?? '?'}${k.updateDate && k.updateDate.getTime() !== k.creationDate?.getTime() ? `, updated ${k.updateDate.toISOString()}` : ''}`);
  context.out(`    used by: ${k.usedBy.join(', ') || 'no configured model (by alt name)'}`);
}

function oneKey(context: CommandContext, command: string): KeySelector {
  const chosen = selectors(context);
  if (chosen.length !== 1) throw new ConfigError('CLI_ONE_KEY', `keys ${command} needs exactly one key: --alt-name NAME or --id UUID.`, { fix: `strongbox keys ${command} --alt-name billing …` });
  return chosen[0]!;
}

function printResult(context: CommandContext, key: KeyDescription): number {
  if (switchFlag(context, 'json')) context.out(JSON.stringify(key, null, 2));
  else printKey(context, key);
  return 0;
}

async function show(context: CommandContext, client: StrongboxClient): Promise<number> {
  return printResult(context, await getKey(client, oneKey(context, 'show')));
}

async function create(context: CommandContext, client: StrongboxClient): Promise<number> {
  const altNames = (stringFlag(context, 'alt-name') ?? '').split(',').filter(Boolean);
  const masterKeyJson = stringFlag(context, 'master-key');
  const materialFile = stringFlag(context, 'key-material-file');
  const masterKey = masterKeyJson === undefined ? undefined : parseJson<MasterKeyDescription>(masterKeyJson, '--master-key', `'{"provider":"aws","region":"eu-west-1","key":"arn:aws:kms:…"}'`);
  const keyMaterial = materialFile === undefined ? undefined : readKeyMaterial(materialFile);
  try {
    const key = await createKey(client, { altNames, masterKey, keyMaterial });
    context.out(`Created data key ${key.id}.`);
    return printResult(context, key);
  } finally {
    keyMaterial?.fill(0);
  }
}

async function addAltName(context: CommandContext, client: StrongboxClient): Promise<number> {
  const selector = oneKey(context, 'add-alt-name');
  const [name] = context.args.positional;
  if (!name) throw new ConfigError('CLI_ALT_NAME_MISSING', 'keys add-alt-name needs the new alt name.', { fix: 'strongbox keys add-alt-name --alt-name billing billing-eu' });
  return printResult(context, await addKeyAltName(client, selector, name));
}

async function removeAltName(context: CommandContext, client: StrongboxClient): Promise<number> {
  const [name] = context.args.positional;
  if (!name) throw new ConfigError('CLI_ALT_NAME_MISSING', 'keys remove-alt-name needs the alt name to remove.', { fix: 'strongbox keys remove-alt-name billing-old' });
  const id = stringFlag(context, 'id');
  const force = switchFlag(context, 'force');
  return printResult(context, await removeKeyAltName(client, id ? { id } : { altName: name }, name, { force }));
}

function parseJson<T>(text: string, flag: string, example: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ConfigError('CLI_JSON_FLAG', `${flag} is not valid JSON.`, { fix: `write it like ${example}.` });
  }
}

/** The 96 bytes of a data key from a file: raw, or base64 text. Never echoed. */
function readKeyMaterial(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new ConfigError('CLI_KEY_MATERIAL_FILE', `--key-material-file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`, { fix: 'give the path of a file holding 96 bytes, raw or base64.' });
  }
  if (raw.length === 96) return raw;
  const decoded = Buffer.from(raw.toString('latin1').trim(), 'base64');
  raw.fill(0);
  return decoded;
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
    const masterKey = masterKeyJson ? parseJson<Record<string, unknown>>(masterKeyJson, '--master-key', `'{"region":"eu-west-1","key":"arn:aws:kms:…"}'`) : undefined;
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
