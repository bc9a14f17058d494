/**
 * Types and run time from one source: every example of the type tests (test/types/filter.ts,
 * update.ts — arrayFilters included —, sortProjection.ts and the pipelines of aggregate.ts) is replayed as a run-time call through a repository of the same
 * decorated model, against the real server with command monitoring. A line that compiles must be
 * accepted by Strongbox (the server may still fail it) with no plaintext of an encrypted field in
 * what is sent; a `// @ts-expect-error` line must be refused with a StrongboxError before any
 * command. The few forms the run time cannot judge are listed below, each with its reason.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { BSON, ObjectId, type Document } from 'mongodb';
import { StrongboxError } from '../../src/errors';
import type { Repository } from '../../src/repository/repository';
import type { TypeCase } from '../types/cases';
import { LeakWatch, describe } from '../security/leakDetector';

/** Values the type tests put only where the model encrypts them. */
const ENCRYPTED_LITERALS = ['555-0100', '555-0101', '123-45-6789', 'B-1', 'evenings'];

/**
 * Refused by the types only. Each is a value of the wrong plain TypeScript type that the run time
 * cannot tell from a right one, because both are the same JavaScript value or BSON type, or a
 * harmless typo the run time lets through.
 */
const TYPE_ONLY: Array<[string, RegExp, string]> = [
  ['filter.ts', /^filter\(\{ tier: 'bronze' \}\);$/, "a literal-union type ('gold' | 'silver') is a string at run time; the bsonType is string"],
  ['filter.ts', /^filter\(\{ name: null \}\);$/, 'null in a filter means "missing or null" and sends no value of the field; only the types know name is required'],
  ['aggregate.ts', /^pipeline\(\[\{ \$unset: 'nmae' \}\]\);$/, '$unset of a name the documents lack removes nothing and sends no value; the types refuse it as a typo'],
];

function loadCases(): TypeCase[] {
  // Stack traces name TypeScript lines only with source maps; the cases record their line as they load.
  process.setSourceMapsEnabled(true);
  for (const file of ['filter', 'update', 'sortProjection', 'aggregate']) require(`../types/${file}`);
  return (require('../types/cases') as typeof import('../types/cases')).typeCases;
}

function expectsError(source: string[], line: number): boolean {
  return /^\s*\/\/ @ts-expect-error/.test(source[line - 2] ?? '');
}

function run(repo: Repository<object>, c: TypeCase): Promise<unknown> {
  const value = c.value as never;
  switch (c.kind) {
    case 'filter': return repo.count(value);
    case 'update': return repo.updateMany({ _id: new ObjectId() } as never, value);
    case 'sort': return repo.find({}, { sort: value }).toArray();
    case 'projection': return repo.find({}, { projection: value }).toArray();
    // Options carrying arrayFilters, for an update that uses every identifier the examples name.
    case 'arrayFilters': return repo.updateMany({ _id: new ObjectId() } as never, { $set: { 'contacts.$[c].kind': 'x', 'tags.$[t]': 'y', 'scores.$[s]': 1 } } as never, value);
    case 'pipeline': return repo.aggregate<Document>(value).toArray();
  }
}

test('every example of the type tests gets the same verdict at run time', async (t) => {
  const cases = loadCases();
  const { Person } = require('../types/model') as typeof import('../types/model');
  t.true(cases.length >= 150, `${cases.length} examples recorded`);
  const watch = await LeakWatch.open([Person]);
  const repo = watch.client.repository(Person) as unknown as Repository<object>;
  const sources = new Map<string, string[]>();
  const mismatches: string[] = [];
  const typeOnly: string[] = [];
  let accepted = 0;
  let refused = 0;
  try {
    for (const c of cases) {
      if (!sources.has(c.file)) sources.set(c.file, readFileSync(c.file, 'utf8').split('\n'));
      const source = sources.get(c.file)!;
      const text = source[c.line - 1]?.trim() ?? '';
      const where = `${c.file.slice(c.file.lastIndexOf('/') + 1)}:${c.line} ${text}`;
      const rejectedByTypes = expectsError(source, c.line);
      const seen = await watch.observe(() => run(repo, c));
      const strongboxRefused = seen.error instanceof StrongboxError;
      if (strongboxRefused) refused++; else accepted++;
      const exempt = TYPE_ONLY.find(([file, pattern]) => c.file.endsWith(file) && pattern.test(text));
      if (rejectedByTypes && !strongboxRefused) {
        if (exempt) { typeOnly.push(`${where} (${exempt[2]})`); continue; }
        mismatches.push(`${where}: rejected by the types, accepted at run time${seen.error ? ` (server: ${describe(seen.error)})` : ''}`);
      } else if (!rejectedByTypes && strongboxRefused) {
        mismatches.push(`${where}: compiles, refused at run time: ${(seen.error as Error).message}`);
      }
      if (rejectedByTypes && strongboxRefused && seen.dataCommands.length > 0) mismatches.push(`${where}: refused only after sending ${seen.dataCommands.map((e) => e.commandName).join(', ')}`);
      for (const e of seen.allCommands) {
        const sent = BSON.EJSON.stringify(e.command);
        for (const literal of ENCRYPTED_LITERALS) if (sent.includes(literal)) mismatches.push(`${where}: sent "${literal}" in plaintext in ${e.commandName}`);
      }
    }
  } finally {
    await watch.close();
  }
  t.log(`${cases.length} examples: ${accepted} accepted, ${refused} refused at run time; type-only refusals: ${typeOnly.length}`);
  for (const line of typeOnly) t.log(`type-only: ${line}`);
  t.deepEqual(mismatches, []);
  // The exemptions must stay real: each still matches an example the run time accepts.
  t.is(typeOnly.length, TYPE_ONLY.length, 'every listed type-only form still exists and is still accepted at run time');
});
