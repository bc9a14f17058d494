/*
 * The model and the code step of the code-step tests, shared by the test and the child process
 * the SIGKILL test kills: a full name (encrypted) split into first (encrypted) and last (plain).
 */
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import type { CodeStepContext } from '../../src/migrations/codeSteps/context';
import { defineLoadedMigration } from '../../src/migrations/loader';
import type { RunOperation } from '../../src/migrations/types';

export const SPLIT_MIGRATION = '20250301T000000_split_name';

export function personModel(db: string) {
  @Model({ db, collection: 'people' })
  class Person {
    @Id() _id!: string;
    @Encrypted({ algorithm: 'Random', keyAltName: 'names' }) fullName!: Random<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'names', optional: true }) first?: Random<string>;
    @Field({ optional: true }) last?: string;
    @Field({ optional: true }) nameSplit?: boolean;
    /** How often the step wrote the document: more than 1 would be work done twice. */
    @Field({ optional: true }) splits?: number;
  }
  return Person;
}

/** Test hooks: which documents the step was handed, and where to fail or slow down. */
export interface SplitHooks {
  handed: string[];
  failAfter?: number;
  slowMs?: number;
}

export function splitStep(Person: ReturnType<typeof personModel>, hooks: SplitHooks, resumable = true): RunOperation {
  return {
    op: 'run',
    name: 'split full name',
    resumable,
    up: async (ctx: CodeStepContext) => {
      const people = ctx.repository(Person);
      await ctx.eachBatch(people, async (docs) => {
        for (const person of docs) {
          if (hooks.failAfter !== undefined && hooks.handed.length >= hooks.failAfter) throw new Error(`stopped on purpose after ${hooks.handed.length} documents`);
          hooks.handed.push(person._id);
          const [first, ...rest] = person.fullName.split(' ');
          // Idempotent per document: a document already split no longer matches the filter.
          await people.updateOne({ _id: person._id, nameSplit: { $ne: true } }, { $set: { first, last: rest.join(' '), nameSplit: true }, $inc: { splits: 1 } });
        }
        if (hooks.slowMs) await new Promise((r) => setTimeout(r, hooks.slowMs));
      }, { filter: { nameSplit: { $ne: true } } });
    },
    down: async (ctx: CodeStepContext) => {
      await ctx.repository(Person).updateMany({ nameSplit: true }, { $unset: { first: '', last: '', nameSplit: '', splits: '' } });
    },
  };
}

export function splitMigration(db: string, Person: ReturnType<typeof personModel>, hooks: SplitHooks, resumable = true) {
  const step = splitStep(Person, hooks, resumable);
  return defineLoadedMigration(SPLIT_MIGRATION, { up: [{ op: 'createIndex', namespace: `${db}.people`, index: { name: 'last_1', key: { last: 1 } } }, step], down: [step, { op: 'dropIndex', namespace: `${db}.people`, name: 'last_1' }] });
}
