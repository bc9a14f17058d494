/**
 * Definition-time rules of declared types: types no stored value could keep are refused with
 * the reason, the reasons Deterministic refuses a type are the true ones, and the decorators'
 * required/optional flag reaches the metadata.
 */
import test, { type ExecutionContext } from 'ava';
import { ModelDefinitionError } from '../../src/errors';
import { ArrayField, Embedded, Encrypted, Field, MetadataRegistry, Model, type Deterministic, type Random } from '../../src/metadata';

function definitionError(t: ExecutionContext, model: Function): ModelDefinitionError {
  return t.throws(() => new MetadataRegistry([model]), { instanceOf: ModelDefinitionError })!;
}

const UNREPRESENTABLE: Array<[string, RegExp]> = [
  ['dbPointer', /reads a stored dbPointer as a DBRef and writes that back as an embedded document/],
  ['undefined', /reads the BSON undefined as null and never writes it/],
  ['null', /null as "no value"/],
];

for (const [type, reason] of UNREPRESENTABLE) {
  test(`'${type}' cannot be declared, on a field or as array elements, with the reason`, (t) => {
    @Model({ db: 'd', collection: 'plain' })
    class Plain { @Field({ bsonType: type as never }) ref!: unknown; }
    @Model({ db: 'd', collection: 'items' })
    class Items { @ArrayField({ of: type as never }) refs!: unknown[]; }
    for (const model of [Plain, Items]) {
      const err = definitionError(t, model);
      t.is(err.code, 'MODEL_BSONTYPE_UNREPRESENTABLE');
      t.regex(err.message, reason);
      t.regex(err.message, /Fix: \S/);
    }
  });
}

test('an encrypted dbPointer is refused for the same reason', (t) => {
  @Model({ db: 'd', collection: 'enc' })
  class Enc { @Encrypted({ algorithm: 'Random', bsonType: 'dbPointer', keyAltName: 'k' }) ref!: Random<unknown>; }
  t.is(definitionError(t, Enc).code, 'MODEL_BSONTYPE_UNREPRESENTABLE');
});

test('Deterministic refuses javascriptWithScope for its true reason, and accepts javascript and symbol', (t) => {
  @Model({ db: 'd', collection: 'scope' })
  class Scope { @Encrypted({ algorithm: 'Deterministic', bsonType: 'javascriptWithScope', keyAltName: 'k' }) code!: Deterministic<unknown>; }
  const err = definitionError(t, Scope);
  t.regex(err.message, /its scope is a document, encrypted whole, so equality would depend on field order/);
  t.notRegex(err.message, /deprecated/);

  @Model({ db: 'd', collection: 'ok' })
  class Ok {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'javascript', keyAltName: 'k' }) code!: Deterministic<unknown>;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'symbol', keyAltName: 'k' }) sym!: Deterministic<unknown>;
  }
  t.is(new MetadataRegistry([Ok]).get(Ok).fields.get('sym')?.encrypted?.bsonType, 'symbol');
});

test('fields are required unless declared optional, on every decorator', (t) => {
  class Inner { @Field() a!: string; }
  @Model({ db: 'd', collection: 'req' })
  class Req {
    @Field() required!: string;
    @Field({ optional: true }) note?: string;
    @Embedded(() => Inner, { optional: true }) inner?: Inner;
    @ArrayField({ of: 'string', optional: true }) tags?: string[];
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'k', optional: true }) secret?: Random<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'k' }) kept!: Random<string>;
  }
  const fields = new MetadataRegistry([Req]).get(Req).fields;
  t.deepEqual([...fields.values()].map((f) => [f.name, f.optional]),
    [['required', false], ['note', true], ['inner', true], ['tags', true], ['secret', true], ['kept', false]]);
});
