/**
 * The main job of `npm run demo`: start the embedded server (unless MONGODB_URI names one),
 * define a model with encrypted fields, write and read a document, and show what the server
 * stores next to what the application sees.
 */
import { Binary, MongoClient, type Document } from 'mongodb';
import { createClient } from '../src';
import { startLocalServer, type LocalServer } from '../src/devserver/ferretdb';
import { Person } from './models/person';

function show(value: unknown): unknown {
  if (value instanceof Binary && value.sub_type === 6) {
    const b64 = Buffer.from(value.buffer).toString('base64');
    return `BinData(6, "${b64.slice(0, 24)}…")  ← ${value.buffer[0] === 1 ? 'Deterministic' : 'Random'}`;
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as Document).map(([k, v]) => [k, show(v)]));
  }
  return value;
}

async function main(): Promise<void> {
  let local: LocalServer | undefined;
  let uri = process.env.MONGODB_URI;
  let tls = {};
  if (!uri) {
    console.log('Starting the embedded server (FerretDB on 127.0.0.1, TLS with a client certificate)…');
    local = await startLocalServer();
    uri = local.tlsUri;
    tls = { enabled: true, caFile: local.caFile, certificateKeyFile: local.clientCertificateKeyFile };
    console.log(`  ${local.description}\n`);
  }
  const strongbox = await createClient({
    uri,
    tls,
    kms: { local: {} }, // development: a master key is generated in .strongbox/master.key on first use
    models: [Person],
  });
  try {
    const people = strongbox.repository(Person);
    await people.deleteMany({ phone: '+1-555-0100' });
    const saved = await people.insertOne({
      name: 'John Doe',
      address: { street: '123 Main St', city: 'Springfield', zip: 12345 },
      phone: '+1-555-0100',
      ssn: '123-45-6789',
    });
    const found = await people.findOne({ phone: '+1-555-0100' });

    const raw = new MongoClient(uri, { tlsCAFile: local?.caFile, tlsCertificateKeyFile: local?.clientCertificateKeyFile });
    const stored = await raw.db('app').collection('people').findOne({ _id: saved._id });
    await raw.close();

    console.log('What the server stores (read with a plain driver client):');
    console.log(show(stored));
    console.log('\nWhat the application sees (people.findOne({ phone: "+1-555-0100" })):');
    console.log(found);
    console.log(`\nfound is a Person: ${found instanceof Person}; the SSN and phone never left the process in plaintext.`);
  } finally {
    await strongbox.close();
    await local?.stop();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
