/**
 * Ciphertext placement in updates (generated). Since updates place every value of one analyzed
 * command (filter, update, arrayFilters) in one synchronous pass and encrypt them as ONE group,
 * each ciphertext is written back into its own slot afterwards. This property drives generated
 * multi-operator updates through the public repository API (updateOne, updateMany,
 * findOneAndUpdate, bulkWrite updateOne/updateMany, upsert with $setOnInsert) and checks that:
 * - reading back through the repository gives exactly the values a plain in-memory model of the
 *   update predicts (every encrypted value in ITS place: a swap is a failure);
 * - every encrypted path is stored as BSON binary subtype 6 (raw driver);
 * - the per-document-key field is under its tenant's data key (ciphertext header bytes 1..16);
 * - every encrypted value in the sent update command decrypts, in its own slot, to the value the
 *   update put there;
 * - no plaintext of an encrypted value appears in any monitored command.
 * Serial: it reads the commands of one shared client.
 */
import test from 'ava';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Binary, ObjectId, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { Embedded, EmbeddedArray, Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import type { Repository } from '../../src/repository/repository';
import { rawClient, testClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

class Inner {
  @Field() label!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) code!: Deterministic<string>;
}
class Item {
  @Field() kind!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) tag!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) secret!: Random<string>;
}
class Blob {
  @Field() a!: string;
  @Field() b!: string;
}
@Model({ db: DB, collection: 'accounts', keyAltName: 'upd-default' })
class Account {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field() tenant!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) det!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) rnd!: Random<string>;
  @Embedded(() => Inner) inner!: Inner;
  @EmbeddedArray(() => Item) items!: Item[];
  @EmbeddedArray(() => Item) logs!: Item[];
  /** Elements with only Deterministic ciphertext: $addToSet can compare them (refused where Random is inside). */
  @EmbeddedArray(() => Inner) codes!: Inner[];
  @Encrypted({ algorithm: 'Random' }) @Embedded(() => Blob) blob!: Random<Blob>;
  @Field({ bsonType: 'object' }) meta!: Record<string, unknown>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant' }) tsec!: Random<string>;
}

let client: StrongboxClient;
let raw: MongoClient;
let features: ReadonlySet<string>;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Account], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
  raw = await rawClient();
  features = (await testServer()).features;
});
test.after.always(async () => {
  await client?.close();
  await raw?.close();
});

type Api = 'updateOne' | 'updateMany' | 'findOneAndUpdate' | 'bulkUpdateOne' | 'bulkUpdateMany' | 'upsert';
/** $set paths of an existing document. 'items.$' / 'items.$[x]' only where the server has the feature. */
const SET_PATHS = ['det', 'rnd', 'name', 'inner', 'inner.code', 'blob', 'tsec', 'meta.x', 'items.3', 'items.0.secret', 'items.0.tag', 'items.$.secret', 'items.$[x].secret'] as const;
/** $set paths of an upsert (no array positions: the document may not exist yet). */
const UPSERT_SET_PATHS = ['rnd', 'name', 'inner', 'blob', 'tsec'] as const;
type SetPath = (typeof SET_PATHS)[number];
type PushOp = '$push-each' | '$push-one' | '$addToSet-each' | '$addToSet-one';
interface Case {
  api: Api;
  setPaths: SetPath[];
  push: PushOp;
  pushCount: number;
  detFilter: 'eq' | 'in';
  innerCodeFilter: boolean;
  text: string;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  api: fc.constantFrom<Api>('updateOne', 'updateMany', 'findOneAndUpdate', 'bulkUpdateOne', 'bulkUpdateMany', 'upsert'),
  setPaths: fc.shuffledSubarray([...SET_PATHS], { minLength: 3, maxLength: 6 }),
  push: fc.constantFrom<PushOp>('$push-each', '$push-one', '$addToSet-each', '$addToSet-one'),
  pushCount: fc.integer({ min: 2, max: 4 }),
  detFilter: fc.constantFrom<'eq' | 'in'>('eq', 'in'),
  innerCodeFilter: fc.boolean(),
  text: fc.string({ maxLength: 6 }),
});

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const isCiphertext = (value: unknown): boolean => value instanceof Binary && value.sub_type === 6;

function get(doc: Document, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Document | undefined)?.[key], doc);
}
function setPath(doc: Document, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = doc;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {});
  node[keys[keys.length - 1]] = value;
}

/** The encrypted paths of a stored Account document. */
function encryptedPaths(doc: Document): string[] {
  const paths = ['det', 'rnd', 'inner.code', 'blob', 'tsec'];
  for (const array of ['items', 'logs']) {
    (doc[array] as unknown[] | undefined ?? []).forEach((_, i) => paths.push(`${array}.${i}.tag`, `${array}.${i}.secret`));
  }
  (doc.codes as unknown[] | undefined ?? []).forEach((_, i) => paths.push(`codes.${i}.code`));
  return paths;
}

/** Every ciphertext of a command with its dotted location. */
function ciphertextsIn(node: unknown, at: string, out: Array<[string, Binary]>): Array<[string, Binary]> {
  if (isCiphertext(node)) out.push([at, node as Binary]);
  else if (Array.isArray(node)) node.forEach((item, i) => ciphertextsIn(item, `${at}.${i}`, out));
  else if (node !== null && typeof node === 'object' && !(node instanceof Binary) && !(node instanceof ObjectId)) {
    for (const [key, value] of Object.entries(node)) ciphertextsIn(value, at ? `${at}.${key}` : key, out);
  }
  return out;
}

test.serial('updates place each ciphertext in its own slot: multi-operator updates through every update entry point read back as modelled, stored encrypted, per-tenant key, no plaintext sent (generated)', async (t) => {
  const repo = client.repository(Account) as unknown as Repository<Document>;
  const canPositional = features.has('positionalOperator');
  const canArrayFilters = features.has('arrayFilters');
  t.log(`server positional $: ${canPositional}, arrayFilters: ${canArrayFilters}`);
  let run = 0;
  const started = Date.now();
  const tally = { apis: {} as Record<string, number>, readBack: 0, commandOnly: 0, serverRefused: 0, sentCiphertexts: 0 };
  await fc.assert(fc.asyncProperty(caseArb, async (c) => {
    run++;
    const id = `${process.pid}-${run}`;
    const S = (what: string) => `SECRET-${id}-${what}-${c.text}`;
    const tenant = `tenant-${id}`;
    const api = c.api;
    tally.apis[api] = (tally.apis[api] ?? 0) + 1;
    const many = api === 'updateMany' || api === 'bulkUpdateMany';
    let setPaths = [...c.setPaths];
    if (api === 'upsert') setPaths = [...new Set(c.setPaths.map((p) => UPSERT_SET_PATHS[SET_PATHS.indexOf(p) % UPSERT_SET_PATHS.length]))];
    // Two paths that conflict in one update ('inner' and 'inner.code') are not sent together.
    if (setPaths.includes('inner')) setPaths = setPaths.filter((p) => p !== 'inner.code');
    // A server without 'items.$' / 'items.$[x]' (FerretDB v1) still gets the whole command (checked as sent), then the rest of it.
    const serverRuns = (canPositional || !setPaths.includes('items.$.secret')) && (canArrayFilters || !setPaths.includes('items.$[x].secret'));

    const item = (doc: number, j: number, v = 0) => ({ kind: `k${j}`, tag: S(`tag${j}`), secret: S(`d${doc}-secret${j}-v${v}`) });
    const seed = (doc: number): Document => ({
      name: `acct-${id}-${doc}`, tenant,
      det: S(`d${doc}-det0`), rnd: S(`d${doc}-rnd0`),
      inner: { label: `L${doc}`, code: S(`d${doc}-code0`) },
      items: [0, 1, 2, 3].map((j) => item(doc, j)),
      logs: [item(doc, 9)],
      codes: [{ label: 'c0', code: S(`d${doc}-codes0`) }],
      blob: { a: S(`d${doc}-blobA0`), b: S(`d${doc}-blobB0`) },
      meta: { x: 0, y: `plain-${doc}` },
      tsec: S(`d${doc}-tsec0`),
    });
    // Documents: two of this tenant (updateMany and bulk updateMany change both), none for upserts.
    const expected: Document[] = api === 'upsert' ? [] : [seed(0), seed(1)];
    const ids: unknown[] = [];
    for (const doc of expected) ids.push((await repo.insertOne(structuredClone(doc)))._id);

    /** Sends the update with these $set paths; `readBack` false: the server is expected to refuse it, only what was sent is checked. */
    const attempt = async (setPaths: SetPath[], readBack: boolean): Promise<boolean> => {
      // The update: $set of the chosen paths, a $push/$addToSet, $setOnInsert for an upsert.
      const $set: Document = {};
      const newValue = (p: string): unknown => {
        switch (p) {
          case 'name': return `renamed-${id}`;
          case 'meta.x': return run;
          case 'inner': return { label: `L-new-${id}`, code: S('code-new') };
          case 'blob': return { a: S('blobA-new'), b: S('blobB-new') };
          case 'items.3': return { kind: 'k3', tag: S('tag3-new'), secret: S('secret3-new') };
          default: return S(`${p}-new`);
        }
      };
      for (const p of setPaths) $set[p] = newValue(p);
      const [op, form] = c.push.split('-') as ['$push' | '$addToSet', 'each' | 'one'];
      const array = op === '$push' ? 'logs' : 'codes';
      const pushed = Array.from({ length: form === 'each' ? c.pushCount : 1 }, (_, j) => (op === '$push'
        ? { kind: `p${j}`, tag: S(`ptag${j}`), secret: S(`psecret${j}`) }
        : { label: `a${j}`, code: S(`acode${j}`) }));
      const update: Document = { $set, [op]: { [array]: form === 'each' ? { $each: pushed } : pushed[0] } };
      if (api === 'upsert') {
        const onInsert: Document = { name: `acct-${id}-u`, rnd: S('rnd-ins'), inner: { label: 'Lu', code: S('code-ins') }, blob: { a: S('blobA-ins'), b: S('blobB-ins') }, tsec: S('tsec-ins'), items: [item(7, 0), item(7, 1)], meta: { y: 'plain-u' },
          // Not empty: FerretDB v1 drops an empty array from $setOnInsert (the raw driver sees the same).
          ...(op === '$push' ? { codes: [{ label: 'cu', code: S('codes-ins') }] } : { logs: [item(7, 9)] }) };
        for (const p of Object.keys($set)) delete onInsert[p];
        update.$setOnInsert = onInsert;
      }
      if (Object.keys($set).length === 0) delete update.$set;

      // The filter: tenant pinned by equality, Deterministic det by equality or $in (with a decoy), optionally inner.code.
      const dets = api === 'upsert' ? [S('det-ups')] : many ? [S('d0-det0'), S('d1-det0')] : [S('d0-det0')];
      const filter: Document = { tenant, det: c.detFilter === 'eq' && dets.length === 1 ? dets[0] : { $in: [...dets, S('decoy')] } };
      if (api === 'upsert') filter.det = dets[0];
      if (c.innerCodeFilter && api !== 'upsert') filter['inner.code'] = many ? { $in: [S('d0-code0'), S('d1-code0')] } : S('d0-code0');
      if (setPaths.includes('items.$.secret')) filter['items.kind'] = 'k1';
      const arrayFilters = setPaths.includes('items.$[x].secret') ? [{ 'x.tag': S('tag2') }] : undefined;
      const options: Document = arrayFilters ? { arrayFilters } : {};

      // What the update should do, on the model.
      const touched = api === 'upsert' ? [] : many ? [0, 1] : [0];
      const applyTo = (doc: Document) => {
        for (const p of setPaths) {
          const value = structuredClone($set[p]);
          if (p === 'items.$.secret') doc.items[1].secret = value;
          else if (p === 'items.$[x].secret') doc.items[2].secret = value;
          else setPath(doc, p, value);
        }
        doc[array].push(...structuredClone(pushed));
      };
      if (readBack) for (const i of touched) applyTo(expected[i]);
      if (api === 'upsert') {
        const doc: Document = { tenant, det: dets[0], ...structuredClone(update.$setOnInsert), [array]: [] };
        for (const p of setPaths) setPath(doc, p, structuredClone($set[p]));
        doc[array].push(...structuredClone(pushed));
        doc.meta ??= {};
        expected.push(doc);
      }

      commands.length = 0;
      let returned: Document | null = null;
      const write = async () => { switch (api) {
        case 'updateOne': await repo.updateOne(filter, update, options); break;
        case 'updateMany': await repo.updateMany(filter, update, options); break;
        case 'findOneAndUpdate': returned = await repo.findOneAndUpdate(filter, update, { ...options, returnDocument: 'after' }) as Document | null; break;
        case 'bulkUpdateOne': await repo.bulkWrite([{ updateOne: { filter, update, ...options } }] as never); break;
        case 'bulkUpdateMany': await repo.bulkWrite([{ updateMany: { filter, update, ...options } }] as never); break;
        case 'upsert': {
          const result = await repo.upsert(filter, update);
          assert.ok(result.upsertedId, 'the upsert inserted');
          ids.push(result.upsertedId);
          break;
        }
      } };
      if (readBack) await write();
      else {
        // Only the server may refuse it (Strongbox accepts these paths): a refusal before sending has no command to check.
        tally.commandOnly++;
        try { await write(); } catch (err) { tally.serverRefused++; assert.match(String((err as Error).name), /^Mongo/, `refused by Strongbox: ${(err as Error).message}`); }
        if (tally.serverRefused < tally.commandOnly) return false; // Applied after all: the model no longer matches the documents.
      }

      // The command sent: each of its ciphertexts decrypts, in its own slot, to the value put there.
      const sent = commands.filter((e) => e.commandName === 'update' || e.commandName === 'findAndModify');
      assert.equal(sent.length, 1, 'one write command');
      const body = sent[0].command.updates?.[0] ?? sent[0].command;
      const u = body.u ?? body.update;
      const wanted: Document = { ...update };
      for (const [where, ciphertext] of ciphertextsIn(u, '', [])) {
        tally.sentCiphertexts++;
        const clear = await client.encryption.decrypt(ciphertext);
        const [operator, ...rest] = where.split('.');
        let want: unknown = (wanted[operator] as Document)?.[rest.join('.')];
        // Inside a document value ('$set.inner.code', '$push.logs.$each.1.secret'): walk the value by its keys.
        if (want === undefined) {
          for (let k = rest.length - 1; k > 0 && want === undefined; k--) {
            const head = (wanted[operator] as Document)?.[rest.slice(0, k).join('.')];
            if (head !== undefined) want = get(head as Document, rest.slice(k).join('.'));
          }
        }
        assert.deepEqual(plain(clear), plain(want), `sent ${where}: its own value`);
      }
      for (const p of setPaths) {
        if (p === 'name' || p === 'meta.x') continue;
        const value = u.$set[p];
        assert.ok(isCiphertext(value) || (value && typeof value === 'object'), `sent $set.${p} is not in the clear`);
      }
      // Filter and arrayFilters: every encrypted comparand is ciphertext.
      const sentFilter = body.q ?? body.query;
      const detSent = sentFilter.det?.$in ?? [sentFilter.det?.$eq ?? sentFilter.det];
      for (const d of detSent) assert.ok(isCiphertext(d), 'det comparand encrypted');
      if (arrayFilters) assert.ok(isCiphertext(body.arrayFilters[0]['x.tag']?.$eq ?? body.arrayFilters[0]['x.tag']), 'arrayFilters comparand encrypted');

      if (!readBack) {
        assert.ok(!JSON.stringify(commands.map((e) => e.command)).includes('SECRET-'), 'no plaintext in any command');
        return true;
      }
      // Read back through the repository: exactly the model's values.
      tally.readBack++;
      for (let i = 0; i < expected.length; i++) {
        const read = await repo.findById(ids[i]) as Document | null;
        assert.ok(read, `document ${i} found`);
        const { _id: _ignored, ...got } = plain(read) as Document;
        assert.deepEqual(got, plain(expected[i]), `${api} document ${i}: values as modelled`);
        const row = (await raw.db(DB).collection('accounts').findOne({ _id: ids[i] as ObjectId }))!;
        for (const p of encryptedPaths(row)) assert.ok(isCiphertext(get(row, p)), `${api} document ${i}: ${p} stored as binary subtype 6`);
        assert.equal(row.meta.x === undefined || typeof row.meta.x === 'number', true, 'meta.x stored in the clear as written');
        const keyId = (await client.keyVault.findKeyId(tenant))!.toUUID().toHexString();
        assert.equal(inspectEncryptedBlob(row.tsec)?.keyId, keyId, `${api} document ${i}: tsec under its tenant's key`);
      }
      if (api === 'findOneAndUpdate') {
        const { _id: _ignored, ...got } = plain(returned) as Document;
        assert.deepEqual(got, plain(expected[0]), 'findOneAndUpdate returns the modelled document');
      }

      // No plaintext of an encrypted value in any command (writes, reads, key vault).
      const all = JSON.stringify(commands.map((e) => e.command));
      assert.ok(!all.includes('SECRET-'), `plaintext in a command: ${all.slice(Math.max(0, all.indexOf('SECRET-') - 80), all.indexOf('SECRET-') + 60)}`);
      return true;
    };
    if (serverRuns) await attempt(setPaths, true);
    // Without the feature: the whole command is checked as sent, then the update without 'items.$' / 'items.$[x]' is checked to the end.
    else if (await attempt(setPaths, false)) await attempt(setPaths.filter((p) => !p.includes('$')), true);
  }), { numRuns: 50, includeErrorInReport: true });
  t.log(`${run} runs in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(tally)}`);
  t.pass();
});
