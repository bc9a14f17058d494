/*
 * The tallies a reshaping step reports (converted, already, unconvertible, …) count each value
 * once: a document whose conditioned write lost to a concurrent writer is counted when a later
 * pass writes it, not at the failed attempt as well; and a run resumed from a checkpoint
 * continues the counts the checkpoint kept.
 */
import test from 'ava';
import type { Document } from 'mongodb';
import { BackfillState } from '../../src/migrations/backfill/state';
import { silentProgress } from '../../src/migrations/progress';
import { reshapeDocuments, type ReshapeRun, type Tally } from '../../src/migrations/reshape/rewrite';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { lines } from './helpers';

const DB = uniqueDbName(__filename);

function run(collection: ReshapeRun['collection'], state: BackfillState, out: (line: string) => void, reshape: ReshapeRun['reshape']): Promise<Tally> {
  return reshapeDocuments({ collection, step: 'm:up:0', fingerprint: 'f', state, batchSize: 4, progress: silentProgress, label: 'wrap n', out, assertLockHeld: () => undefined, reshape });
}

/** Wraps n in an array, counting what it did; `n: 'x'` does not convert. */
function wrap(doc: Document, tally: Tally): { set: Record<string, unknown>; unset: string[] } | undefined {
  if (Array.isArray(doc.n)) { tally.add('already', doc._id); return undefined; }
  if (doc.n === 'x') { tally.add('unconvertible', doc._id); return undefined; }
  tally.add('converted', doc._id);
  return { set: { n: [doc.n] }, unset: [] };
}

test('a document whose write conflicted is counted once, when a later pass writes it', async (t) => {
  const raw = await rawClient();
  try {
    const items = raw.db(DB).collection('conflict');
    await items.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}` as never, n: i === 7 ? 'x' : i })));
    const state = new BackfillState(raw.db(`${DB}_conflict_sb`));
    let interfered = false;
    const tally = await run(items, state, () => undefined, async (doc, visit) => {
      // Another writer changes document 3 between the read and the conditioned write, once.
      if (doc._id === 'd3' && !interfered) {
        interfered = true;
        await items.updateOne({ _id: 'd3' as never }, { $set: { n: 33 } });
      }
      return wrap(doc, visit);
    });
    t.true(interfered);
    t.is(tally.get('converted'), 9, 'nine values converted, document 3 counted once (in the second pass)');
    t.is(tally.get('written'), 9);
    t.is(tally.get('unconvertible'), 1, 'the value that does not convert is counted in one pass only');
    t.deepEqual((await items.findOne({ _id: 'd3' as never }))?.n, [33], 'the concurrent value is the one converted');
  } finally {
    await raw.close();
  }
});

test('a run resumed from a checkpoint continues its counts and says so', async (t) => {
  const raw = await rawClient();
  try {
    const items = raw.db(DB).collection('resume');
    await items.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}` as never, n: i === 1 || i === 8 ? 'x' : i })));
    const state = new BackfillState(raw.db(`${DB}_resume_sb`));
    // A first run that dies after its first batch (d0–d3) was checkpointed.
    const dying = run(items, state, () => undefined, async (doc, visit) => {
      if (doc._id === 'd4') throw new Error('killed');
      return wrap(doc, visit);
    });
    await t.throwsAsync(dying, { message: 'killed' });
    t.is(Number((await state.checkpoint('m:up:0'))?.tally?.counts.unconvertible), 1);
    const output = lines();
    const tally = await run(items, state, output.out, async (doc, visit) => wrap(doc, visit));
    t.regex(output.text(), /resuming after 3 document\(s\) rewritten by an interrupted run/);
    t.is(tally.get('converted'), 8, 'the whole step: three before the checkpoint, five after');
    t.is(tally.get('unconvertible'), 2, 'one before the checkpoint, one after');
    t.deepEqual(tally.examples.get('unconvertible'), ['d1', 'd8']);
    t.is(await state.progress.countDocuments({}), 0, 'the checkpoint is cleared at the end');
  } finally {
    await raw.close();
  }
});
