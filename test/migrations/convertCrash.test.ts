/*
 * A conversion killed with SIGKILL mid-way and run again: every value converted exactly once
 * (a scalar converted twice would be nested, [[x]]), none lost, and the re-run resumes from the
 * checkpoint instead of starting over.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createClient } from '../../src/client/createClient';
import { BackfillState } from '../../src/migrations/backfill/state';
import { MigrationRunner } from '../../src/migrations/runner';
import { masterKeyFile, rawClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { CONVERT_MIGRATION, convertMigration } from './convertChild';
import { lines } from './helpers';

const DB = uniqueDbName(__filename);
const STATE_DB = `${DB}_sb`;
const DOCUMENTS = 3000;

test('a conversion killed with SIGKILL and run again converts every value once, none lost', async (t) => {
  const server = await testServer();
  const keyFile = masterKeyFile();
  const keyVault = `${DB}_keys.__keyVault`;
  const raw = await rawClient();
  try {
    const items = raw.db(DB).collection('items');
    await items.insertMany(Array.from({ length: DOCUMENTS }, (_, n) => ({ _id: `i${String(n).padStart(5, '0')}` as never, tag: `tag-${n}` })));
    const child = spawn(process.execPath, [join(__dirname, 'convertChild.js')], {
      env: { ...process.env, CONVERT_URI: server.uri, CONVERT_TLS: JSON.stringify(server.tls), CONVERT_KEY_FILE: keyFile, CONVERT_KEY_VAULT: keyVault, CONVERT_DB: DB, CONVERT_STATE_DB: STATE_DB, CONVERT_BATCH: '50' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let childOutput = '';
    child.stdout.on('data', (d: Buffer) => { childOutput += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { childOutput += d.toString(); });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const state = new BackfillState(raw.db(STATE_DB));
    let confirmed = 0;
    while (confirmed < 500) {
      if (child.exitCode !== null) t.fail(`the child ended before it was killed:\n${childOutput}`);
      await new Promise((r) => setTimeout(r, 10));
      confirmed = Number((await state.progress.findOne({ _id: `${CONVERT_MIGRATION}:up:0` }))?.processed ?? 0);
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
    child.kill('SIGKILL');
    t.is(await exited, 'SIGKILL');
    const convertedAtKill = await items.countDocuments({ tag: { $type: 'array' } });
    t.log(`killed with ${confirmed} confirmed, ${convertedAtKill} converted`);
    t.true(convertedAtKill >= confirmed && convertedAtKill < DOCUMENTS, 'the first run stopped mid-way');

    const client = await createClient({ uri: server.uri, tls: server.tls, kms: { local: { keyFile } }, keyVault: { namespace: keyVault }, models: [], warn: () => undefined });
    try {
      const output = lines();
      await new MigrationRunner(client, { migrations: [convertMigration(DB)], settings: { database: STATE_DB, batchSize: 50, lockTtlMs: 1000 }, out: output.out, lockWaitMs: 10_000 }).up();
      t.log(output.text());
      const converted = Number(/(\d+) value\(s\) converted/.exec(output.text())?.[1] ?? 0);
      t.true(converted <= DOCUMENTS - confirmed, `the re-run converted only what was left (${converted})`);
    } finally {
      await client.close();
    }
    const all = await items.find({}).toArray();
    t.is(all.length, DOCUMENTS, 'none lost');
    t.true(all.every((d) => Array.isArray(d.tag) && d.tag.length === 1 && d.tag[0] === `tag-${Number(String(d._id).slice(1))}`), 'every value converted exactly once');
  } finally {
    await raw.close();
  }
});
