import { MigrationError } from '../../errors';
import { BackfillState } from '../backfill/state';
import { operationFingerprint } from '../checksum';
import type { CodeStepContext } from '../codeSteps/context';
import { clearLoopCheckpoints, eachBatch } from '../codeSteps/eachBatch';
import { CodeStepRuns } from '../codeSteps/runs';
import type { RunOperation } from '../types';
import { splitNamespace, type OperationHandler, type StepContext } from './context';

function stepOf(ctx: StepContext): { migration: string; direction: 'up' | 'down' } {
  const [migration, direction] = ctx.step.split(':');
  return { migration, direction: direction === 'down' ? 'down' : 'up' };
}

function runsOf(ctx: StepContext): CodeStepRuns {
  return new CodeStepRuns(ctx.client.dataClient.db(ctx.settings.database));
}

function functionOf(op: RunOperation, ctx: StepContext): (c: CodeStepContext) => Promise<void> {
  const { migration, direction } = stepOf(ctx);
  const fn = direction === 'up' ? op.up : op.down;
  if (typeof fn !== 'function') {
    throw new MigrationError('MIGRATION_CODE_STEP_IRREVERSIBLE', `Migration ${migration}, code step "${op.name}" has no down function, so it cannot be reverted.`, {
      fix: 'add a down function to the step (or revert its effect by hand and write a new migration).',
    });
  }
  return fn;
}

function sourceLines(fn: unknown): number {
  return typeof fn === 'function' ? fn.toString().split('\n').length : 0;
}

/**
 * A data step in code. The runner keeps a record per step next to the changelog: "running"
 * when it starts, "done" when it returns. A step found "running" was interrupted; it is run again
 * (its batch loops continue from their checkpoints) unless it says it is not resumable.
 */
export const run: OperationHandler<RunOperation> = {
  describe: (op) => `run code step "${op.name}"${op.resumable === false ? ' (not resumable)' : ''}`,

  async check(op, ctx) {
    const record = await runsOf(ctx).find(ctx.step);
    if (record?.state === 'done' && record.fingerprint === operationFingerprint(op)) return { done: true, note: 'finished by an earlier run of this migration' };
    return { done: false };
  },

  async preview(op, ctx) {
    const { direction } = stepOf(ctx);
    const fn = direction === 'up' ? op.up : op.down;
    if (typeof fn !== 'function') return [`refused: the step has no ${direction} function, so the migration cannot be reverted`];
    const record = await runsOf(ctx).find(ctx.step);
    return [
      `calls the step's ${direction} function (${sourceLines(fn)} line(s) of source, part of the checksum); the commands it sends are known only when it runs, so it is not called in a dry run`,
      `context: repositories of the configured models, raw collections, a session, progress, eachBatch (checkpoint after every batch); ${op.resumable === false ? 'not resumable: after an interruption it must be released by hand' : 'resumable'}`,
      ...(record?.state === 'running' ? [`an earlier run stopped in this step${record.error ? ` (${record.error})` : ''}${op.resumable === false ? ': the real run refuses until it is released' : ': the real run resumes it'}`] : []),
    ];
  },

  async execute(op, ctx) {
    const { migration, direction } = stepOf(ctx);
    const fn = functionOf(op, ctx);
    const runs = runsOf(ctx);
    const fingerprint = operationFingerprint(op);
    const earlier = await runs.find(ctx.step);
    const resumed = earlier?.state === 'running' && earlier.fingerprint === fingerprint;
    if (resumed && op.resumable === false) {
      throw new MigrationError('MIGRATION_CODE_STEP_NOT_RESUMABLE', `Migration ${migration}, code step "${op.name}" was interrupted${earlier.error ? ` (${earlier.error})` : ''} and says it is not resumable: running it again could apply part of it twice.`, {
        fix: `check the data it touches, repair what it half did, then release it with \`strongbox migration release ${ctx.step}\` and run the migration again.`,
      });
    }
    if (resumed) ctx.out(`     resuming: an earlier run stopped in this step${earlier.error ? ` (${earlier.error})` : ''}`);
    await runs.start(ctx.step, op.name, fingerprint);
    const state = new BackfillState(ctx.client.dataClient.db(ctx.settings.database));
    const session = ctx.client.dataClient.startSession();
    let processed = 0;
    let loops = 0;
    const scope = {
      step: ctx.step, fingerprint, state, batchSize: ctx.settings.batchSize, progress: ctx.progress,
      assertLockHeld: ctx.assertLockHeld, onBatch: (n: number) => { processed += n; },
    };
    const context: CodeStepContext = {
      migration, name: op.name, direction, resumed, session,
      repository: (model) => ctx.client.repository(model),
      collection: (namespace) => {
        const { db, collection } = splitNamespace(namespace);
        return ctx.client.dataClient.db(db).collection(collection);
      },
      progress: (label, total) => ctx.progress(label, total),
      log: (line) => ctx.out(`     ${line}`),
      eachBatch: (source, handle, options) => eachBatch(scope, loops++, source, handle, options),
    };
    try {
      await fn(context);
    } catch (err) {
      await runs.fail(ctx.step, String((err as Error)?.message ?? err), processed).catch(() => undefined);
      throw err;
    } finally {
      await session.endSession();
    }
    await runs.finish(ctx.step);
    await clearLoopCheckpoints(state, ctx.step);
    return processed ? `${processed} document(s) visited by its batch loops` : undefined;
  },

  async verify() {
    // What a code step should leave behind is known only to its author; its own checks run inside it.
  },
};
