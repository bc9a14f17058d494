/**
 * Fail closed, property-based: generated filters, updates, arrayFilters, projections, sorts,
 * value-carrying options and pipelines (see failClosedGrammar.ts) go through the public
 * repository API, as plain JavaScript would call it, against the real server with command
 * monitoring. For every input, either Strongbox refuses it with a StrongboxError, or no plaintext
 * of an encrypted field appears in any command sent (recorded at commandStarted, before the server
 * answers, so a command the server cannot execute is still checked), any query-log line, or
 * anything a thrown error exposes.
 */
import test from 'ava';
import fc from 'fast-check';
import { BSON } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { uniqueDbName } from '../harness/server';
import { callArbitrary, type Call } from './failClosedGrammar';
import { defineFailClosedModel } from './failClosedModel';
import { LeakWatch, describe, secretString } from './leakDetector';

const DB = uniqueDbName(__filename);
const { Account } = defineFailClosedModel(DB);

/** At least 10,000 inputs per `npm test`, spread over clients that each run one call at a time. */
const TOTAL_RUNS = Number(process.env.STRONGBOX_FAILCLOSED_RUNS ?? 10_000);
const LANES = 4;

let lanes: LeakWatch[] = [];
test.before(async () => {
  lanes = await Promise.all(Array.from({ length: LANES }, () => LeakWatch.open([Account])));
  const seed = lanes[0].client.repository(Account) as unknown as { insertMany(docs: unknown[]): Promise<unknown> };
  await seed.insertMany(['alice', 'bob', 'carol'].map((customerId, i) => ({
    name: 'pub', customerId, age: 30 + i, tags: ['x'], phone: secretString(i), pin: 600_000_000 + i, ssn: secretString(10 + i), vault: secretString(20 + i),
    address: { street: 'Main', city: 'Town', zip: secretString(30 + i) }, contacts: [{ kind: 'home', phone: secretString(40 + i), note: secretString(50 + i) }],
    medical: { bloodType: secretString(60 + i), allergies: [secretString(70 + i)] },
  })));
});
test.after.always(async () => { await Promise.all(lanes.map((l) => l.close())); });

/** Calls a repository method exactly as JavaScript would, reading cursors to the end. */
function invoke(watch: LeakWatch, call: Call): Promise<unknown> {
  const repo = watch.client.repository(Account) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const result = repo[call.entry](...call.args);
  if (call.entry === 'find' || call.entry === 'aggregate') return (result as { toArray(): Promise<unknown[]> }).toArray();
  if (call.entry === 'watch') {
    // One read opens the stream (its aggregate is sent); servers without change streams answer with an error.
    const stream = result as { tryNext(): Promise<unknown>; close(): Promise<void> };
    return stream.tryNext().finally(() => stream.close());
  }
  return result as Promise<unknown>;
}

const tally = { runs: 0, refused: 0, sent: 0, serverFailed: 0, codes: new Map<string, number>() };

test('no generated query, update, projection, option or pipeline sends, logs or throws plaintext of an encrypted field', async (t) => {
  const started = Date.now();
  const perLane = Math.ceil(TOTAL_RUNS / LANES);
  const seed = Number(process.env.STRONGBOX_FAILCLOSED_SEED ?? Date.now() % 2 ** 31);
  const outcomes = await Promise.allSettled(lanes.map((watch, lane) => fc.assert(fc.asyncProperty(callArbitrary, async (call) => {
    tally.runs++;
    const seen = await watch.observe(() => invoke(watch, call));
    if (seen.error instanceof StrongboxError) { tally.refused++; tally.codes.set(seen.error.code, (tally.codes.get(seen.error.code) ?? 0) + 1); }
    else if (seen.error !== undefined) tally.serverFailed++;
    else tally.sent++;
    const problems = watch.verdict(call, seen);
    if (problems.length > 0) {
      const sent = seen.dataCommands.map((c) => BSON.EJSON.stringify(c.command, { relaxed: true }).slice(0, 600));
      throw new Error(`${call.entry}: ${problems.join('; ')}${seen.error ? ` (outcome ${describe(seen.error)})` : ''}\n  sent: ${sent.join('\n        ') || 'nothing'}`);
    }
  }), { numRuns: perLane, seed: seed + lane, includeErrorInReport: true })));
  const seconds = (Date.now() - started) / 1000;
  const codes = [...tally.codes].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([c, n]) => `${c} ${n}`).join(', ');
  console.log(`fail-closed property: ${tally.runs} generated calls in ${seconds.toFixed(1)} s (seed ${seed}); refused ${tally.refused}, sent and answered ${tally.sent}, sent and failed on the server ${tally.serverFailed}; refusals: ${codes}`);
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message)] : []));
  t.deepEqual(failures, [], failures.join('\n\n'));
  t.true(tally.runs >= TOTAL_RUNS, `ran ${tally.runs} of ${TOTAL_RUNS} inputs`);
  // The property can fail both ways: something was refused and something was sent.
  t.true(tally.refused > 0 && tally.sent > 0);
});
