/**
 * A small app that depends on the packed Strongbox, compiled by the consumer test twice: once as
 * CommonJS and once as an ES module (same source, different package "type"). It defines an
 * encrypted model, connects over TLS to the server strongbox/testing gives it, round-trips a
 * document, uses the operations tooling through its subpath entries (strongbox/migrations,
 * strongbox/keys, strongbox/audit) and prints what it saw as one JSON line.
 */
import { Binary, ObjectId } from 'mongodb';
import { createClient, Encrypted, Field, Id, Model, StrongboxError, type Deterministic, type Random } from 'strongbox';
import { auditModel } from 'strongbox/audit';
import { listKeys } from 'strongbox/keys';
import { defineLoadedMigration, MigrationRunner } from 'strongbox/migrations';
import { startTestDatabase } from 'strongbox/testing';

@Model({ db: process.env.APP_DB ?? 'consumer_app', collection: 'patients' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'consumer' })
  ssn!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'consumer' })
  diagnosis!: Random<string>;
}

async function main(): Promise<void> {
  const database = await startTestDatabase();
  const strongbox = await createClient({
    uri: database.uri,
    tls: database.tls,
    kms: { local: {} },
    keyVault: { namespace: `${process.env.APP_DB ?? 'consumer_app'}.__keyVault` },
    models: [Patient],
  });
  try {
    const patients = strongbox.repository(Patient);
    const saved = await patients.insertOne({ name: 'Ada', ssn: '123-45-6789', diagnosis: 'healthy' });
    const found = await patients.findOne({ ssn: '123-45-6789' });
    const stored = await strongbox.dataClient.db(process.env.APP_DB ?? 'consumer_app').collection('patients').findOne({ _id: saved._id });
    const subtype = (value: unknown) => (value instanceof Binary ? value.sub_type : typeof value);
    let refused = '';
    try {
      // A Random field cannot be queried: refused before any traffic (a compile error in TypeScript).
      await patients.findOne({ diagnosis: 'healthy' } as never);
    } catch (err) {
      refused = err instanceof StrongboxError ? err.code : `not a StrongboxError: ${String(err)}`;
    }
    const audit = await auditModel(strongbox, Patient);
    const keys = await listKeys(strongbox);
    const runner = new MigrationRunner(strongbox, {
      settings: { database: `${process.env.APP_DB ?? 'consumer_app'}_migrations` },
      migrations: [defineLoadedMigration('20250101T000000_name_index', {
        up: [{ op: 'createIndex', namespace: `${process.env.APP_DB ?? 'consumer_app'}.patients`, index: { name: 'name_1', key: { name: 1 } } }],
        down: [{ op: 'dropIndex', namespace: `${process.env.APP_DB ?? 'consumer_app'}.patients`, name: 'name_1' }],
      })],
    });
    await runner.up();
    const indexes = await strongbox.dataClient.db(process.env.APP_DB ?? 'consumer_app').collection('patients').indexes();
    console.log(JSON.stringify({
      name: found?.name,
      ssn: found?.ssn,
      diagnosis: found?.diagnosis,
      isPatient: found instanceof Patient,
      idIsAppObjectId: found?._id instanceof ObjectId,
      storedSsn: subtype(stored?.ssn),
      storedDiagnosis: subtype(stored?.diagnosis),
      randomQuery: refused,
      audit: { documents: audit.documents, consistent: audit.consistent },
      keyUsedBy: keys.find((key) => key.altNames.includes('consumer'))?.usedBy,
      migrations: (await runner.status()).map((s) => s.state),
      nameIndex: indexes.some((index) => index.name === 'name_1'),
    }));
  } finally {
    await strongbox.close();
    await database.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
