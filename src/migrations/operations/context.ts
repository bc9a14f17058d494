import { BSON, type Collection, type Db, type Document } from 'mongodb';
import type { StrongboxClient } from '../../client/strongboxClient';
import { isNotImplemented } from '../../crypto/keyVault';
import { MigrationError, UnsupportedByServerError } from '../../errors';
import type { BackfillState } from '../backfill/state';
import type { ProgressFactory } from '../progress';
import { FEATURE_NAMES, type ServerFeature, type ServerInfo } from '../server';
import type { MigrationSettings } from '../settings';
import type { Operation } from '../types';

/** Everything a step needs; built by the runner for each step. */
export interface StepContext {
  client: StrongboxClient;
  server: ServerInfo;
  settings: MigrationSettings;
  state: BackfillState;
  /** "<migration id>:<up|down>:<index>": names the step's resumable state. */
  step: string;
  out: (line: string) => void;
  progress: ProgressFactory;
  assertLockHeld: () => void;
}

export interface StepCheck {
  /** Already in effect: the step is skipped (this is what makes re-running a migration safe). */
  done: boolean;
  note?: string;
}

/**
 * One kind of operation. `check` and `preview` only read, so --dry-run can call them; `verify`
 * is the post-check that the effect is really there.
 */
export interface OperationHandler<O extends Operation> {
  describe(op: O): string;
  /** The server feature the step depends on, when some servers lack it. */
  feature?(op: O): ServerFeature | undefined;
  check(op: O, ctx: StepContext): Promise<StepCheck>;
  /** The commands `execute` would send, for --dry-run. */
  preview(op: O, ctx: StepContext): Promise<string[]>;
  /** Returns a note for the output when there is something to say. */
  execute(op: O, ctx: StepContext): Promise<string | void>;
  verify(op: O, ctx: StepContext): Promise<void>;
}

export function splitNamespace(namespace: string): { db: string; collection: string } {
  const dot = namespace.indexOf('.');
  if (dot <= 0 || dot === namespace.length - 1) {
    throw new MigrationError('MIGRATION_NAMESPACE', `"${namespace}" is not a "database.collection" namespace.`, { fix: "write namespace: 'hr.employees'." });
  }
  return { db: namespace.slice(0, dot), collection: namespace.slice(dot + 1) };
}

function databaseOf(ctx: StepContext, namespace: string): Db {
  return ctx.client.dataClient.db(splitNamespace(namespace).db);
}

export function collectionOf(ctx: StepContext, namespace: string): Collection {
  const { db, collection } = splitNamespace(namespace);
  return ctx.client.dataClient.db(db).collection(collection);
}

export async function collectionInfo(ctx: StepContext, namespace: string): Promise<Document | undefined> {
  const { collection } = splitNamespace(namespace);
  const [info] = await databaseOf(ctx, namespace).listCollections({ name: collection }).toArray();
  return info;
}

/** A command as sent, with its database, in relaxed Extended JSON. */
export function commandText(db: string, command: Document): string {
  return `db.getSiblingDB('${db}').runCommand(${BSON.EJSON.stringify(command, { relaxed: true })})`;
}

/** Sends a command; a server that does not implement what it needs gets an UnsupportedByServerError. */
export async function send(ctx: StepContext, db: string, command: Document, feature?: ServerFeature): Promise<Document> {
  try {
    return await ctx.client.dataClient.db(db).command(command);
  } catch (err) {
    if (feature && isNotImplemented(err)) {
      throw new UnsupportedByServerError('SERVER_UNSUPPORTED', `${ctx.server.description} does not support ${FEATURE_NAMES[feature]}.`, {
        fix: 'run this migration against MongoDB, or accept that this step is skipped (it is, without --strict).',
        cause: err,
      });
    }
    throw err;
  }
}
