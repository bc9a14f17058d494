/*
 * A migration with a code step next to a data operation. In a project, import from 'strongbox'.
 *
 * The code step reads customers through the repository (so fullName arrives decrypted) in
 * batches with a checkpoint after each, and writes through the repository (so givenName is
 * encrypted). Its writes are idempotent per document — the update only matches a customer not
 * split yet — which makes a re-run after a crash safe: batches recorded as done are skipped,
 * and the one that was in flight changes only what it had not changed.
 */
import type { Migration, RunOperation } from '../../src';
import { Customer } from './customer';

const split: RunOperation = {
  op: 'run',
  name: 'split full name',
  up: async (ctx) => {
    const customers = ctx.repository(Customer);
    const { processed, resumed } = await ctx.eachBatch(customers, async (batch) => {
      for (const customer of batch) {
        const [givenName, ...rest] = customer.fullName.split(' ');
        await customers.updateOne({ _id: customer._id, familyName: { $exists: false } }, { $set: { givenName, familyName: rest.join(' ') } }, { session: ctx.session });
      }
    }, { filter: { familyName: { $exists: false } } });
    ctx.log(`${processed} customer(s) visited${resumed ? ' (resumed after an interruption)' : ''}`);
  },
  down: async (ctx) => {
    await ctx.repository(Customer).updateMany({}, { $unset: { givenName: '', familyName: '' } }, { session: ctx.session });
  },
};

const migration: Migration = {
  up: [
    { op: 'createIndex', namespace: 'example_code_step.customers', index: { name: 'familyName_1', key: { familyName: 1 } } },
    split,
  ],
  down: [
    split,
    { op: 'dropIndex', namespace: 'example_code_step.customers', name: 'familyName_1' },
  ],
};

export default migration;
