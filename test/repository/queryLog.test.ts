import test from 'ava';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);
const lines: string[] = [];
let client: StrongboxClient;
test.before(async () => { client = await testClient([Patient], { queryLog: (line) => lines.push(line) }); });
test.after.always(async () => { await client?.close(); });

/** Evaluates a logged line with mongosh's helpers stubbed: proves it is valid shell (JavaScript) code. */
function parsesAsShell(line: string): boolean {
  const code = line.replace(/\s*\/\/ [\d.]+ ms.*$/, '');
  if (code.startsWith('//')) return true;
  const calls: string[] = [];
  const chain: Record<string, unknown> = new Proxy({}, { get: (_t, prop) => (..._args: unknown[]) => { calls.push(String(prop)); return chain; } });
  const db = { getSiblingDB: () => ({ getCollection: () => chain, runCommand: () => chain }) };
  const helper = (...args: unknown[]) => args;
  new Function('db', 'ObjectId', 'ISODate', 'NumberLong', 'NumberInt', 'NumberDecimal', 'UUID', 'BinData', 'Timestamp', code)(db, helper, helper, helper, helper, helper, helper, helper, helper);
  return true;
}

test('every command is logged as pasteable mongosh code with its duration; encrypted values and key material are placeholders', async (t) => {
  const repo = client.repository(Patient);
  await repo.insertOne({ name: 'Logged', age: 30, tags: [], contacts: [], address: { street: 's', city: 'c', zip: '«zip-secret»' }, phone: '«phone-secret»', ssn: '«ssn-secret»', score: 1, medical: { bloodType: 'A', allergies: [] } } as never);
  await repo.findOne({ phone: '«phone-secret»' });
  await repo.updateOne({ name: 'Logged' }, { $set: { ssn: '«ssn-2»' } } as never);
  await repo.aggregate([{ $match: { name: 'Logged' } }, { $project: { ssn: 1 } }]).toArray();

  const find = lines.find((l) => l.includes('.getCollection("patients").find('));
  t.truthy(find);
  t.regex(find!, new RegExp(`^db\\.getSiblingDB\\("${DB}"\\)\\.getCollection\\("patients"\\)\\.find\\(\\{ phone: "<encrypted Deterministic key [0-9a-f]{8}>" \\}\\)\\.limit\\(1\\)  // \\d+\\.\\d ms$`));
  t.true(lines.some((l) => /\.insertMany\(\[\{ .*ssn: "<encrypted Random key/.test(l)));
  t.true(lines.some((l) => /\.updateOne\(\{ name: "Logged" \}, \{ \$set: \{ ssn: "<encrypted Random/.test(l)));
  t.true(lines.some((l) => /\.aggregate\(\[\{ \$match: \{ name: "Logged" \} \}/.test(l)));
  t.true(lines.some((l) => l.includes('keyMaterial: "<key material>"')), 'creating the data key logged its insert without key material');
  for (const line of lines) {
    t.false(/secret»|«ssn-2»/.test(line), `no plaintext in: ${line.slice(0, 80)}`);
    t.true(parsesAsShell(line), line);
  }
});
