/**
 * Entities that behave like a good ORM's (`node dist/examples/entities.js` after `npm run build`):
 * defaults, timestamps, a version for optimistic concurrency, lifecycle hooks, class-validator
 * rules, and save() sending only what changed — encrypted fields included.
 */
import { IsEmail, IsIn, Length } from 'class-validator';
import type { CommandStartedEvent, ObjectId } from 'mongodb';
import {
  BeforeInsert, ConcurrencyError, CreatedAt, createClient, Encrypted, Field, Id, Model, UpdatedAt, validate, ValidationError, Version,
  type Deterministic, type Random,
} from '../src';
import { exampleConnection } from './support/connection';

@Model({ db: 'app', collection: 'members', keyAltName: 'members' })
class Member {
  @Id() _id!: ObjectId;
  @Length(2, 60) @Field() name!: string;
  @IsEmail() @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @IsIn(['basic', 'gold']) @Field({ default: () => 'basic' }) plan!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) notes?: Random<string>;
  @CreatedAt() createdAt!: Date;
  @UpdatedAt() updatedAt!: Date;
  @Version() version!: number;

  /** Hooks see plaintext, after defaults and timestamps, before validation and encryption. */
  @BeforeInsert() normalize() { this.email = this.email.toLowerCase(); }
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const strongbox = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, models: [Member], driverOptions: { monitorCommands: true } });
  const members = strongbox.repository(Member);
  const sent: CommandStartedEvent[] = [];
  strongbox.dataClient.on('commandStarted', (event) => sent.push(event));
  try {
    await members.deleteMany({});
    const ada = Object.assign(new Member(), { name: 'Ada', email: 'Ada@Example.com' });
    console.log('validate() before saving:', validate(ada).length === 0 ? 'valid' : validate(ada));
    await members.save(ada);
    console.log(`inserted with plan=${ada.plan}, version=${ada.version}, createdAt=${ada.createdAt.toISOString()}`);

    const loaded = (await members.findOne({ email: 'ada@example.com' }))!;
    loaded.notes = 'prefers email';
    const before = sent.length;
    await members.save(loaded);
    const update = sent.slice(before).find((c) => c.commandName === 'update')!.command.updates[0].u;
    console.log(`save() sent $set of ${Object.keys(update.$set).join(', ')} and $inc of ${Object.keys(update.$inc).join(', ')}; notes went encrypted: ${update.$set.notes._bsontype}`);

    const stale = (await members.findById(loaded._id))!;
    loaded.plan = 'gold';
    await members.save(loaded);
    stale.name = 'Ada L.';
    const conflict = await members.save(stale).catch((e: unknown) => e);
    console.log(`a stale save: ${conflict instanceof ConcurrencyError ? conflict.code : String(conflict)}`);

    const invalid = await members.insertOne({ name: 'X', email: 'not an email', plan: 'platinum' } as never).catch((e: unknown) => e);
    if (invalid instanceof ValidationError) console.log(`refused before encryption: ${invalid.issues.map((i) => `${i.path} (${i.rule})`).join(', ')}`);
  } finally {
    await strongbox.close();
    await connection.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
