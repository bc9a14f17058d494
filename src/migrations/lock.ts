import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Collection, Db } from 'mongodb';
import { MigrationError } from '../errors';

/** One lease of the migration lock. Leases are numbered; the highest one is the lock's state. */
interface Lease {
  _id: number;
  owner: string;
  host: string;
  pid: number;
  acquiredAt: Date;
  expiresAt: Date;
  releasedAt?: Date;
}

const LOCK_COLLECTION = 'lock';

export interface LockOptions {
  ttlMs: number;
  /** How long acquire() keeps trying while another runner holds the lock (default 0: fail at once). */
  waitMs?: number;
}

/**
 * The migration lock, as a sequence of numbered leases. Taking it is one conditional write:
 * inserting the lease that follows the latest one, which the unique _id lets exactly one runner
 * do; the others get a duplicate-key error and see the winner as the holder. The latest lease
 * is held until it is released or expires; its holder renews it every third of its lifetime,
 * so a runner that died stops renewing and its lease runs out.
 *
 * Why not a findOneAndUpdate on an expired lock document: FerretDB v1 runs findAndModify as a
 * find followed by a separate update, so several runners "won" the same expired lock in a test
 * (5 of 8). An insert under a unique _id is atomic on every MongoDB-compatible server.
 */
export class MigrationLock {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly collection: Collection<Lease>;
  private lease?: number;
  private heartbeat?: NodeJS.Timeout;
  private lost?: MigrationError;
  /** When the lease runs out unless renewed, as far as this runner knows. */
  private expiresAt = 0;

  constructor(db: Db, private readonly options: LockOptions) {
    this.collection = db.collection<Lease>(LOCK_COLLECTION);
  }

  /** Takes the lock or throws MIGRATION_LOCKED naming the holder. Returns a note when an expired lease was taken over. */
  async acquire(): Promise<string | undefined> {
    const deadline = Date.now() + (this.options.waitMs ?? 0);
    for (;;) {
      const latest = await latestLease(this.collection);
      const now = Date.now();
      if (latest && !latest.releasedAt && latest.expiresAt.getTime() > now) {
        if (now >= deadline) throw lockedError(latest);
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(50, deadline - now))));
        continue;
      }
      const lease = (latest?._id ?? 0) + 1;
      try {
        await this.collection.insertOne({ _id: lease, owner: this.owner, host: hostname(), pid: process.pid, acquiredAt: new Date(now), expiresAt: new Date(now + this.options.ttlMs) });
      } catch (err) {
        if ((err as { code?: number }).code === 11000) continue; // another runner took this lease first
        throw err;
      }
      this.lease = lease;
      this.expiresAt = now + this.options.ttlMs;
      this.startHeartbeat();
      return latest && !latest.releasedAt ? `took over the expired lock of ${describeHolder(latest)} (it stopped renewing it; it expired at ${latest.expiresAt.toISOString()})` : undefined;
    }
  }

  private startHeartbeat(): void {
    const renew = async () => {
      const now = Date.now();
      const result = await this.collection.updateOne({ _id: this.lease!, owner: this.owner }, { $set: { expiresAt: new Date(now + this.options.ttlMs) } });
      const successor = await this.collection.findOne({ _id: { $gt: this.lease! } });
      if (result.matchedCount === 0 || successor) this.markLost(`another runner took it over after it expired${successor ? ` (${describeHolder(successor)})` : ''}`);
      else this.expiresAt = now + this.options.ttlMs;
    };
    this.heartbeat = setInterval(() => {
      // A failed renewal is retried at the next beat; the lock is lost only once it has run out.
      renew().catch((err) => {
        if (Date.now() >= this.expiresAt) this.markLost(`it could not be renewed before it expired (${(err as Error).message})`);
      });
    }, Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.heartbeat.unref();
  }

  private markLost(reason: string): void {
    this.lost ??= new MigrationError('MIGRATION_LOCK_LOST', `This runner lost the migration lock: ${reason}. It stopped before its next step.`, {
      fix: 'run `strongbox migration status`, then `migration up` again: completed steps are skipped and backfills resume.',
    });
    this.stopHeartbeat();
  }

  /** Throws when the lock was lost (checked before every step and backfill batch). */
  assertHeld(): void {
    // A runner whose renewals stalled (a blocked event loop, a slow network) may have been taken over meanwhile.
    if (!this.lost && Date.now() >= this.expiresAt) this.markLost('it expired before it could be renewed');
    if (this.lost) throw this.lost;
  }

  async release(): Promise<void> {
    this.stopHeartbeat();
    if (this.lease === undefined) return;
    const now = new Date();
    await this.collection.updateOne({ _id: this.lease, owner: this.owner }, { $set: { releasedAt: now, expiresAt: now } });
    this.lease = undefined;
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Releases whatever lease is held: for an operator who knows the holder is gone. Returns the holder it released. */
  static async forceRelease(db: Db): Promise<string | undefined> {
    const collection = db.collection<Lease>(LOCK_COLLECTION);
    const latest = await latestLease(collection);
    if (!latest || latest.releasedAt) return undefined;
    const now = new Date();
    await collection.updateOne({ _id: latest._id }, { $set: { releasedAt: now, expiresAt: now } });
    return describeHolder(latest);
  }

  /** The runner holding the lock now, if any (for status output). */
  static async holder(db: Db): Promise<string | undefined> {
    const latest = await latestLease(db.collection<Lease>(LOCK_COLLECTION));
    return latest && !latest.releasedAt && latest.expiresAt.getTime() > Date.now() ? describeHolder(latest) : undefined;
  }
}

function latestLease(collection: Collection<Lease>): Promise<Lease | null> {
  return collection.find({}).sort({ _id: -1 }).limit(1).next();
}

function describeHolder(holder: Lease): string {
  return `runner ${holder.owner} (host ${holder.host}, pid ${holder.pid}, since ${holder.acquiredAt.toISOString()})`;
}

function lockedError(holder: Lease): MigrationError {
  return new MigrationError('MIGRATION_LOCKED', `Another migration runner is active: ${describeHolder(holder)}. Its lock expires at ${holder.expiresAt.toISOString()} unless renewed.`, {
    fix: 'wait for it to finish (strongbox migration status). If it died, its lock expires by itself; to release it at once, run `strongbox migration unlock`.',
  });
}
