import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type CommandFailedEvent, type CommandStartedEvent, type CommandSucceededEvent, type Document, type MongoClient } from 'mongodb';
import { inspectEncryptedBlob, isEncryptedBinary } from '../crypto/blob';

/** Fields of key vault documents whose values are key material (wrapped, but still not for logs). */
const KEY_MATERIAL_FIELDS = new Set(['keyMaterial']);

/**
 * Renders a value as mongosh source. Encrypted values become a placeholder string naming the
 * algorithm and key, so the line stays pasteable but carries neither plaintext nor ciphertext.
 */
function toShell(value: unknown, key?: string): string {
  if (key !== undefined && KEY_MATERIAL_FIELDS.has(key)) return '"<key material>"';
  if (isEncryptedBinary(value)) {
    const info = inspectEncryptedBlob(value);
    return JSON.stringify(`<encrypted ${info?.algorithm ?? 'value'}${info ? ` key ${info.keyId.slice(0, 8)}` : ''}>`);
  }
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `NumberLong("${value}")`;
  if (value instanceof ObjectId) return `ObjectId("${value.toHexString()}")`;
  if (value instanceof Date) return `ISODate("${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}")`;
  if (value instanceof Long) return `NumberLong("${value.toString()}")`;
  if (value instanceof Int32) return `NumberInt(${value.value})`;
  if (value instanceof Double) return String(value.value);
  if (value instanceof Decimal128) return `NumberDecimal("${value.toString()}")`;
  if (value instanceof Timestamp) return `Timestamp({ t: ${value.high}, i: ${value.low} })`;
  if (value instanceof Binary) return value.sub_type === 4 ? `UUID("${value.toUUID().toHexString()}")` : `BinData(${value.sub_type}, "${Buffer.from(value.buffer).toString('base64')}")`;
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => toShell(v)).join(', ')}]`;
  // The driver keeps sort specifications as Maps to preserve key order.
  if (value instanceof Map) return toShell(Object.fromEntries(value));
  if (typeof value === 'object') {
    const entries = Object.entries(value as Document).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${toShell(v, k)}`);
    return entries.length ? `{ ${entries.join(', ')} }` : '{}';
  }
  return JSON.stringify(String(value));
}

/** One command as the mongosh call that does the same. */
function commandToShell(db: string, command: Document): string {
  const name = Object.keys(command)[0];
  const coll = typeof command[name] === 'string' ? command[name] as string : undefined;
  const target = `db.getSiblingDB(${JSON.stringify(db)})${coll ? `.getCollection(${JSON.stringify(coll)})` : ''}`;
  const opts = (o: Document) => (Object.keys(o).length ? `, ${toShell(o)}` : '');
  switch (name) {
    case 'find': {
      let line = `${target}.find(${toShell(command.filter ?? {})}${command.projection ? `, ${toShell(command.projection)}` : ''})`;
      if (command.sort) line += `.sort(${toShell(command.sort)})`;
      if (command.skip) line += `.skip(${command.skip})`;
      if (command.limit) line += `.limit(${command.limit})`;
      return line;
    }
    case 'insert':
      return `${target}.insertMany(${toShell(command.documents ?? [])})`;
    case 'update':
      return (command.updates as Document[]).map((u) => `${target}.${u.multi ? 'updateMany' : Object.keys(u.u ?? {}).some((k) => k.startsWith('$')) || Array.isArray(u.u) ? 'updateOne' : 'replaceOne'}(${toShell(u.q)}, ${toShell(u.u)}${opts({ ...(u.upsert ? { upsert: true } : {}), ...(u.arrayFilters ? { arrayFilters: u.arrayFilters } : {}) })})`).join('; ');
    case 'delete':
      return (command.deletes as Document[]).map((d) => `${target}.${d.limit === 1 ? 'deleteOne' : 'deleteMany'}(${toShell(d.q)})`).join('; ');
    case 'aggregate':
      return `${target}.aggregate(${toShell(command.pipeline ?? [])})`;
    case 'findAndModify':
      if (command.remove) return `${target}.findOneAndDelete(${toShell(command.query ?? {})}${opts(command.sort ? { sort: command.sort } : {})})`;
      return `${target}.${Object.keys(command.update ?? {}).some((k) => k.startsWith('$')) ? 'findOneAndUpdate' : 'findOneAndReplace'}(${toShell(command.query ?? {})}, ${toShell(command.update)}${opts({ ...(command.upsert ? { upsert: true } : {}), ...(command.new ? { returnDocument: 'after' } : {}), ...(command.sort ? { sort: command.sort } : {}) })})`;
    case 'getMore':
      return `// getMore on cursor ${String(command.getMore)} of ${JSON.stringify(db)}.${JSON.stringify(command.collection)}`;
    default: {
      const { lsid: _l, $db: _d, $clusterTime: _c, ...rest } = command;
      return `db.getSiblingDB(${JSON.stringify(db)}).runCommand(${toShell(rest)})`;
    }
  }
}

/** Handshake and monitoring chatter that says nothing about the application's queries. */
const QUIET = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'saslStart', 'saslContinue', 'endSessions', 'buildInfo', 'killCursors']);

/**
 * Logs every command the client sends as copy-pasteable mongosh code with its duration,
 * e.g. `db.getSiblingDB("hr").getCollection("employees").find({ phone: "<encrypted Deterministic key 6f1c2a7b>" }).limit(1)  // 1.8 ms`.
 */
export function attachQueryLog(client: MongoClient, write: (line: string) => void): void {
  const pending = new Map<number, { line: string; started: bigint }>();
  client.on('commandStarted', (event: CommandStartedEvent) => {
    if (QUIET.has(event.commandName)) return;
    pending.set(event.requestId, { line: commandToShell(event.databaseName, event.command), started: process.hrtime.bigint() });
  });
  const finish = (event: CommandSucceededEvent | CommandFailedEvent, failed: boolean) => {
    const entry = pending.get(event.requestId);
    if (!entry) return;
    pending.delete(event.requestId);
    const ms = Number(process.hrtime.bigint() - entry.started) / 1e6;
    write(`${entry.line}  // ${ms.toFixed(1)} ms${failed ? ` FAILED: ${(event as CommandFailedEvent).failure?.name ?? 'error'}` : ''}`);
  };
  client.on('commandSucceeded', (e) => finish(e, false));
  client.on('commandFailed', (e) => finish(e, true));
}
