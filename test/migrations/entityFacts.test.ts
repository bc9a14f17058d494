/**
 * The migration generator and the entity facts of a model: defaults and required fields need no
 * step (the validator enforces neither), but a change to them is noted; stamps are plain fields.
 */
import test from 'ava';
import { CreatedAt, Encrypted, Field, Id, MetadataRegistry, Model, Variant, Version, type Random } from '../../src/metadata';
import { diffSnapshots } from '../../src/migrations/differ';
import { takeSnapshot } from '../../src/migrations/snapshot';

function models(strict: boolean) {
  @Model({ db: 'facts', collection: 'tickets' })
  class Ticket {
    @Id() _id!: string;
    @Field({ optional: !strict }) title!: string;
    @Field(strict ? { default: () => 'open' } : {}) state!: string;
    @CreatedAt() createdAt!: Date;
    @Version() version!: number;
  }
  return takeSnapshot(new MetadataRegistry([Ticket]));
}

test('a field becoming required or gaining a default is a note, not a step', (t) => {
  const before = models(false);
  const after = models(true);
  t.deepEqual(after.collections['facts.tickets'].required, ['title', 'state', 'createdAt', 'version']);
  t.deepEqual(after.collections['facts.tickets'].defaults, ['state']);
  const plan = diffSnapshots(before, after);
  t.deepEqual(plan.up, [], 'no operation: nothing stored has to change');
  t.true(plan.notes.some((n) => n.startsWith('facts.tickets.title becomes required') && n.includes('$exists: false')));
  t.true(plan.notes.some((n) => n.startsWith('facts.tickets.state has a new default') && n.includes('reads never fill it in')));
  t.deepEqual(diffSnapshots(after, after).notes, [], 'unchanged facts, no notes');
});

test('snapshots taken before these facts were recorded give no notes', (t) => {
  const before = models(false);
  const { required: _r, defaults: _d, ...older } = before.collections['facts.tickets'];
  t.deepEqual(diffSnapshots({ version: 1, collections: { 'facts.tickets': older } }, models(true)).notes, []);
});

test('variants: the collection\'s snapshot covers the encrypted fields of every variant, so a new variant\'s field gets its step', (t) => {
  @Model({ db: 'facts', collection: 'parties', keyAltName: 'facts', discriminator: 'kind' })
  class Party { @Id() _id!: string; @Field() kind!: string; }
  const before = takeSnapshot(new MetadataRegistry([Party]));
  @Variant('person')
  class PersonParty extends Party { @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>; }
  const after = takeSnapshot(new MetadataRegistry([PersonParty]));
  t.deepEqual(Object.keys(after.collections), ['facts.parties']);
  t.deepEqual(after.collections['facts.parties'].encrypted.map((f) => f.path), ['ssn']);
  t.false(after.collections['facts.parties'].required!.includes('ssn'), 'a variant\'s field is not required of the other variants');
  t.deepEqual(diffSnapshots(before, after).up.map((s) => s.operation.op), ['encryptField', 'setValidator']);
});
