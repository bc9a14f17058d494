import { ObjectId } from 'mongodb';
import type { Deterministic, Random } from '../../src/metadata/brands';
import type { Projected, Projection, Sort } from '../../src/repository/types';
import { expectType, type Address, type Badge, type Equal, type Person } from './model';
import { typeCase } from './cases';

const sort = typeCase<Sort<Person>>('sort');
const project = typeCase<Projection<Person>>('projection');

// ---- Sort: plaintext paths, 1 or -1
sort({ age: -1, name: 1 });
sort({ 'address.city': 1, 'contacts.kind': -1, createdAt: -1, _id: 1 });
// @ts-expect-error Deterministic: ciphertext order is not plaintext order
sort({ phone: 1 });
// @ts-expect-error Random
sort({ ssn: -1 });
// @ts-expect-error encrypted field of array elements
sort({ 'contacts.phone': 1 });
// @ts-expect-error a document holding encrypted fields compares their ciphertext
sort({ badge: 1 });
// @ts-expect-error direction
sort({ age: 2 });
// @ts-expect-error unknown field
sort({ agee: 1 });
// @ts-expect-error element indexes are not sort keys
sort({ 'contacts.0.kind': 1 });
// @ts-expect-error nothing inside a Random whole object
sort({ 'medical.blood': 1 });

// ---- Projection: any field, encrypted ones included (decrypted on read)
project({ name: 1, ssn: 1, medical: true, 'address.city': 1, 'contacts.phone': 1 });
project({ _id: 0, contacts: 0, phone: false });
// @ts-expect-error unknown field
project({ nmae: 1 });
// @ts-expect-error not 0 / 1 / boolean
project({ name: 2 });
// @ts-expect-error nothing inside a Random whole object
project({ 'medical.blood': 1 });

// ---- Projected: the shape a projection reads
expectType<Equal<Projected<Person, { name: 1 }>, { _id: ObjectId; name: string }>>();
expectType<Equal<Projected<Person, { name: 1; _id: 0 }>, { name: string }>>();
expectType<Equal<Projected<Person, { nickname: true; phone: 1 }>, { _id: ObjectId; nickname?: string; phone: Deterministic<string> }>>();
expectType<Equal<Projected<Person, { 'address.city': 1 }>, { _id: ObjectId; address: { city: string } }>>();
expectType<Equal<Projected<Person, { 'contacts.kind': 1; _id: 0 }>, { contacts: { kind: string }[] }>>();
expectType<Equal<Projected<Person, { 'badge.label': 0 }>['badge'], { code: Deterministic<string> }>>();
type WithoutSecrets = Projected<Person, { ssn: 0; medical: 0; salary: 0 }>;
expectType<Equal<keyof WithoutSecrets, Exclude<keyof Person, 'ssn' | 'medical' | 'salary' | 'greet'>>>();
expectType<Equal<WithoutSecrets['address'], Address>>();
expectType<Equal<Projected<Person, {}>['badge'], Badge>>();

// ---- arrays whose elements are encrypted, or hold encrypted fields, are not plaintext either
class Ledger {
  _id!: ObjectId;
  codes!: Random<string>[];
  entries!: Deterministic<number>[][];
  labels!: string[];
}
const ledgerSort = (s: Sort<Ledger>) => s;
ledgerSort({ labels: 1 });
// @ts-expect-error the elements are Random ciphertexts
ledgerSort({ codes: 1 });
// @ts-expect-error nested arrays of Deterministic ciphertexts
ledgerSort({ entries: -1 });
