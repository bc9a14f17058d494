/**
 * What is wrong with a stored document, measured against its model's metadata: every required
 * field present, arrays stored as arrays, embedded documents as documents (their required fields
 * too, also inside array elements), declared scalar types as the BSON type they declare. Read the
 * document raw with `promoteValues: false`. Encrypted fields must be ciphertext (BinData subtype 6).
 */
import type { Collection, Document } from 'mongodb';
import { resolveModel } from '../../src/metadata/resolve';
import type { FieldMetadata, ModelShape } from '../../src/metadata/types';

const SCALARS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  bool: (v) => typeof v === 'boolean',
  date: (v) => v instanceof Date,
  int: (v) => tag(v) === 'Int32',
  long: (v) => tag(v) === 'Long',
  double: (v) => tag(v) === 'Double',
  decimal: (v) => tag(v) === 'Decimal128',
  objectId: (v) => tag(v) === 'ObjectId',
  binData: (v) => tag(v) === 'Binary',
  object: (v) => isDocument(v),
  array: (v) => Array.isArray(v),
};

const tag = (v: unknown) => (v as { _bsontype?: string } | null)?._bsontype;
const isDocument = (v: unknown): v is Document => v !== null && typeof v === 'object' && !Array.isArray(v) && tag(v) === undefined && !(v instanceof Date);
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

export function nonconforming(model: Function, doc: Document): string[] {
  const wrong: string[] = [];
  checkDocument(resolveModel(model), doc, '', wrong);
  return wrong;
}

function checkDocument(shape: ModelShape, doc: Document, prefix: string, wrong: string[]): void {
  for (const field of shape.fields.values()) {
    const path = prefix + field.name;
    if (!(field.name in doc)) {
      if (!field.optional && !field.isId) wrong.push(`${path} is missing`);
      continue;
    }
    checkValue(field, doc[field.name], path, wrong);
  }
}

function checkValue(field: FieldMetadata, value: unknown, path: string, wrong: string[]): void {
  if (field.encrypted) {
    if (tag(value) !== 'Binary' || (value as { sub_type: number }).sub_type !== 6) wrong.push(`${path} is not ciphertext: ${show(value)}`);
    return;
  }
  if (field.isArray) {
    if (!Array.isArray(value)) return void wrong.push(`${path} is not an array: ${show(value)}`);
    value.forEach((item, i) => checkElement(field, item, `${path}.${i}`, wrong));
    return;
  }
  checkElement(field, value, path, wrong);
}

function checkElement(field: FieldMetadata, value: unknown, path: string, wrong: string[]): void {
  if (field.embedded) {
    if (!isDocument(value)) return void wrong.push(`${path} is not a document: ${show(value)}`);
    checkDocument(field.embedded, value, `${path}.`, wrong);
    return;
  }
  const declared = field.isArray ? field.itemBsonType : field.bsonType;
  const fits = declared === undefined ? undefined : SCALARS[declared];
  if (fits && !fits(value)) wrong.push(`${path} is not a ${declared}: ${show(value)}`);
}

/**
 * What is wrong with each document stored in `collection` (read raw), measured against the model
 * `modelOf` names for it (a collection with variants: the variant its discriminator names), plus
 * what `more` finds; one line per nonconforming document.
 */
export async function storedProblems(collection: Collection, modelOf: (doc: Document) => Function, more: (doc: Document) => string[] = () => []): Promise<string[]> {
  const out: string[] = [];
  for (const doc of await collection.find({}, { promoteValues: false }).toArray()) {
    const wrong = [...nonconforming(modelOf(doc), doc), ...more(doc)];
    if (wrong.length) out.push(`${JSON.stringify(doc)}: ${wrong.join('; ')}`);
  }
  return out;
}
