import test from 'ava';
import { BSON, type CommandStartedEvent } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);

// Distinctive plaintexts (with characters base64 never contains) so a leak cannot hide.
const secret = (label: string) => `«${label}-${Math.random().toString(36).slice(2)}»`;

let client: StrongboxClient;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Patient], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
});
test.after.always(async () => { await client?.close(); });

test('no plaintext of any encrypted field appears in any command sent through a full CRUD and aggregation scenario', async (t) => {
  const secrets: string[] = [];
  const s = (label: string) => { const v = secret(label); secrets.push(v); return v; };
  const doc = () => ({
    name: 'visible', age: 40, tags: ['x'],
    address: { street: 'st', city: 'c', zip: s('zip') },
    contacts: [{ kind: 'home', phone: s('cphone'), note: s('note') }],
    phone: s('phone'), ssn: s('ssn'), score: 7, medical: { bloodType: s('blood'), allergies: [s('allergy')] },
  });
  const repo = client.repository(Patient);
  const a = doc();
  await repo.insertOne(a as never);
  await repo.insertMany([doc(), doc()] as never[]);
  await repo.findOne({ phone: a.phone });
  await repo.find({ phone: { $in: [a.phone, s('phone-in')] }, 'address.zip': a.address.zip }).toArray();
  await repo.find({ 'contacts.phone': a.contacts[0].phone, phone: { $nin: [s('nin')] } }).toArray();
  await repo.count({ phone: { $ne: s('ne') } });
  await repo.exists({ phone: a.phone });
  await repo.updateOne({ phone: a.phone }, { $set: { ssn: s('ssn2'), 'address.zip': s('zip2') }, $push: { contacts: { kind: 'w', phone: s('p2'), note: s('n2') } } } as never);
  await repo.updateMany({ phone: a.phone }, { $set: { medical: { bloodType: s('b3'), allergies: [] } } } as never);
  const { phone: _phone, ...inserted } = doc();
  await repo.upsert({ phone: s('upsert') }, { $setOnInsert: { ...inserted, name: 'u', ssn: s('ssn3') } } as never);
  await repo.replaceOne({ phone: a.phone }, doc() as never);
  await repo.findOneAndUpdate({ phone: s('missing') }, { $set: { ssn: s('ssn4') } } as never);
  await repo.aggregate([{ $match: { phone: s('agg'), 'contacts.phone': { $in: [s('agg2')] } } }, { $project: { ssn: 1 } }]).toArray();
  await repo.bulkWrite([{ insertOne: { document: doc() as never } }, { updateOne: { filter: { phone: s('bulk') } as never, update: { $set: { ssn: s('bulk2') } } as never } }]);
  await repo.deleteMany({ phone: s('del') });

  const kinds = new Set(commands.map((c) => c.commandName));
  for (const expected of ['insert', 'find', 'update', 'aggregate', 'delete', 'findAndModify']) t.true(kinds.has(expected), `the scenario sent ${expected}`);
  const leaks: string[] = [];
  for (const event of commands) {
    const text = BSON.EJSON.stringify(event.command, { relaxed: false });
    const bytes = Buffer.from(BSON.serialize(event.command));
    for (const value of secrets) if (text.includes(value) || bytes.includes(Buffer.from(value))) leaks.push(`${event.commandName}: ${value}`);
  }
  t.true(secrets.length > 25);
  t.true(commands.length > 15);
  t.deepEqual(leaks, [], 'no command carried plaintext');
  // The check can see plaintext: plain fields do appear.
  t.true(commands.some((c) => BSON.EJSON.stringify(c.command).includes('visible')));
});
