import { Binary, type Document } from 'mongodb';
import { Schema, type Connection, type Model } from 'mongoose';
import type { Datasets } from '../datasets';
import { COLLECTION_OF, type PlainKind } from './plan';

/*
 * Idiomatic Mongoose models of the benchmark documents: schemas with types, defaults left alone
 * (so documents get Mongoose's `__v` version key, as in any Mongoose application). Embedded
 * documents carry their own `unique_id`, so their automatic `_id` is switched off — a
 * subdocument id nobody asked for would also make Mongoose store more than the others.
 */
const str = { type: String };
const int = { type: Number };

function embedded(type: typeof str | typeof int): Schema {
  const fields: Record<string, unknown> = { unique_id: Schema.Types.ObjectId };
  for (let i = 1; i <= 15; i++) fields[`field${i}`] = type;
  return new Schema(fields, { _id: false });
}

const smallFlat = new Schema({
  field1: str, field2: str, field3: str, field4: str, field5: str, field6: str, field7: str,
  field8: int, field9: int, field10: int, field11: int, field12: int, field13: int,
});

function largeFlat(source: Document): Schema {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(source)) {
    fields[name] = typeof value === 'string' ? str : typeof value === 'number' ? int : value instanceof Binary ? Buffer : Schema.Types.Mixed;
  }
  return new Schema(fields);
}

function largeNested(): Schema {
  const strings = embedded(str);
  const ints = embedded(int);
  return new Schema({
    embedded_str_doc_1: strings, embedded_str_doc_2: strings, embedded_str_doc_3: strings, embedded_str_doc_4: strings, embedded_str_doc_5: strings,
    embedded_str_doc_array: [strings],
    embedded_int_doc_8: ints, embedded_int_doc_9: ints, embedded_int_doc_10: ints, embedded_int_doc_11: ints,
    embedded_int_doc_12: ints, embedded_int_doc_13: ints, embedded_int_doc_14: ints,
  });
}

export function mongooseModels(connection: Connection, datasets: Datasets): Record<PlainKind, Model<any>> {
  return {
    small: connection.model('SmallFlat', smallFlat, COLLECTION_OF.small),
    large: connection.model('LargeFlat', largeFlat(datasets.large.doc), COLLECTION_OF.large),
    nested: connection.model('LargeNested', largeNested(), COLLECTION_OF.nested),
  };
}
