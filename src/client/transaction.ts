import type { ClientSession } from 'mongodb';
import { InvalidInputError } from '../errors';
import type { Repository } from '../repository/repository';

/**
 * Where each repository method takes its options object. A repository bound to a session adds
 * the session there; a method not listed is refused inside a transaction rather than run
 * outside it (estimatedCount, for one, cannot run in a transaction: MongoDB manual,
 * "Transactions: Operations").
 */
const OPTIONS_ARGUMENT: Readonly<Record<string, number>> = {
  insertOne: 1, insertMany: 1, findOne: 1, findById: 1, find: 1, paginate: 1, count: 1, exists: 1, distinct: 2,
  updateOne: 2, updateMany: 2, upsert: 2, replaceOne: 2, findOneAndUpdate: 2, findOneAndReplace: 2, findOneAndDelete: 1,
  deleteOne: 1, deleteMany: 1, aggregate: 1, bulkWrite: 1, populate: 2,
};

/** What the callback of `client.withTransaction` gets: the session, and repositories bound to it. */
export class Transaction {
  constructor(readonly session: ClientSession, private readonly repositoryOf: (model: Function) => Repository<object>) {}

  /** The model's repository with every call inside this transaction. */
  repository<T extends object>(model: new (...args: never[]) => T): Repository<T> {
    return bindSession(this.repositoryOf(model) as unknown as Repository<T>, this.session);
  }
}

/**
 * A view of a repository whose calls all carry `session`. Passing another session is refused, so
 * nothing meant for the transaction silently runs outside it.
 */
export function bindSession<T extends object>(repository: Repository<T>, session: ClientSession): Repository<T> {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      const at = OPTIONS_ARGUMENT[property];
      if (at === undefined) {
        if (property === 'toJSON') return value.bind(target);
        return () => {
          throw new InvalidInputError('INPUT_NOT_IN_TRANSACTION', `${property} on ${target.model.target.name} cannot run inside a transaction.`, {
            fix: 'call it on client.repository(Model) outside the transaction callback.',
          });
        };
      }
      return (...args: unknown[]) => {
        const given = args[at];
        const options = given === undefined ? {} : given;
        if (options !== null && typeof options === 'object' && 'session' in options && (options as { session?: unknown }).session !== undefined && (options as { session?: unknown }).session !== session) {
          throw new InvalidInputError('INPUT_SESSION_CONFLICT', `${property} on ${target.model.target.name} was given another session inside a transaction.`, {
            fix: 'leave the session out: repositories from the transaction already use its session.',
          });
        }
        const bound = [...args];
        while (bound.length < at) bound.push(undefined);
        bound[at] = options !== null && typeof options === 'object' ? { ...options, session } : options;
        return (value as (...a: unknown[]) => unknown).apply(target, bound);
      };
    },
  });
}
