/**
 * Hostile model definitions, property-based: random classes decorated with random (valid and
 * invalid) options of every decorator, with random design types, names, embedded classes,
 * inheritance and indexes. A registry either accepts them or throws a ModelDefinitionError;
 * what it accepts is usable: storable field names, a data key for every encrypted field, and
 * schema generation that works.
 */
import test from 'ava';
import fc from 'fast-check';
import 'reflect-metadata';
import { Binary, Decimal128, ObjectId, UUID } from 'mongodb';
import { ModelDefinitionError, StrongboxError } from '../../src/errors';
import { ArrayField, CompoundIndex, Embedded, EmbeddedArray, Encrypted, Field, Id, Index, Model, MetadataRegistry } from '../../src/metadata';
import type { ModelShape } from '../../src/metadata/types';
import { buildSchemaMap, buildValidator } from '../../src/schema';
import { runs, untyped } from './support';

const BSON_TYPES = ['string', 'int', 'long', 'double', 'decimal', 'bool', 'date', 'objectId', 'binData', 'object', 'array', 'timestamp', 'regex', 'javascript', 'symbol', 'null', 'undefined', 'minKey', 'maxKey', 'javascriptWithScope', 'dbPointer'];
const circular: Record<string, unknown> = {};
circular.self = circular;
/** Values no option expects, as JavaScript callers (and mistakes) produce them. */
const junk = fc.constantFrom<unknown>(undefined, null, '', 0, 42, -1, true, 'x', [], {}, 10n, Symbol('s'), circular, () => 'k', new Date(NaN), Number.NaN);
/** Mostly well-formed, sometimes junk: keeps both acceptance and refusal well exercised. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid as fc.Arbitrary<unknown>, weight: 6 }, { arbitrary: junk, weight: 1 });
const bsonType = mostly(fc.oneof({ arbitrary: fc.constantFrom('string', 'int', 'long', 'date', 'objectId', 'binData'), weight: 4 }, { arbitrary: fc.constantFrom(...BSON_TYPES, 'str', 'String', ['string'], ['string', 'int'], []), weight: 1 }));
const keyAltName = mostly(fc.oneof(fc.constantFrom('k', 'pii', '/owner', '/nested/name', '/missing', '/~1odd', '/', '', '/tags', '/secret'), fc.constant((doc: { owner?: string }) => doc.owner ?? '')));
const keyId = mostly(fc.constantFrom<unknown>('e114f7ad-ad7a-4a68-81a7-ebcb9ea0953a', 'not-a-uuid', new UUID(), new Binary(Buffer.alloc(16), 0), new Binary(Buffer.alloc(3), 4)));
/** Present once in `oneIn` cases, otherwise undefined. */
const maybe = <T>(a: fc.Arbitrary<T>, oneIn = 2) => fc.oneof({ arbitrary: a, weight: 4 }, { arbitrary: fc.constant(undefined), weight: Math.round(4 * (oneIn - 1)) });
const keyOptions = fc.record({ keyAltName: maybe(keyAltName), keyId: maybe(keyId, 8) });

const roleDecorator = fc.oneof(
  fc.record({ kind: fc.constant('Id'), options: mostly(fc.record({ bsonType: maybe(bsonType, 2) })) }),
  { arbitrary: fc.record({ kind: fc.constant('Field'), options: mostly(fc.record({ bsonType: maybe(bsonType), optional: maybe(fc.boolean()) })) }), weight: 4 },
  fc.record({ kind: fc.constantFrom('Embedded', 'EmbeddedArray'), target: fc.constantFrom('next', 'next', 'next', 'self', 'undefined', 'throws', 'number', 'arrow'), options: mostly(fc.record({ optional: maybe(fc.boolean()) })) }),
  fc.record({ kind: fc.constant('ArrayField'), options: mostly(fc.record({ of: bsonType, optional: maybe(fc.boolean()) })) }),
);
const encryptedDecorator = fc.record({ kind: fc.constant('Encrypted'), options: mostly(
  fc.tuple(fc.record({ algorithm: mostly(fc.constantFrom('Deterministic', 'Random')), bsonType: maybe(bsonType, 1.25), optional: maybe(fc.boolean()) }), keyOptions).map(([a, b]) => ({ ...a, ...b }))) });
const indexDecorator = fc.record({ kind: fc.constant('Index'), options: mostly(fc.record({ direction: maybe(mostly(fc.constantFrom(1, -1, 'hashed', 'text', '2d', 2))), unique: maybe(fc.boolean()), name: maybe(fc.string()) })) });
const DESIGN_TYPES: unknown[] = [String, String, Number, Number, Date, ObjectId, Boolean, Object, Array, Binary, UUID, Decimal128, undefined, Function, Symbol, class Custom {}];
const propertyKey = fc.oneof(
  { arbitrary: fc.constantFrom('_id', 'name', 'owner', 'secret', 'tags', 'nested', 'email', 'age'), weight: 8 },
  { arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '$where', 'a.b', '', 'toString', 'x\u0000y', '$'), weight: 1 },
);
const property = fc.record({
  key: propertyKey,
  isStatic: fc.oneof({ arbitrary: fc.constant(false), weight: 19 }, { arbitrary: fc.constant(true), weight: 1 }),
  designType: fc.nat({ max: DESIGN_TYPES.length - 1 }),
  // One role, maybe encrypted, maybe indexed, and now and then a decorator too many.
  decorators: fc.tuple(roleDecorator, maybe(encryptedDecorator, 2), maybe(indexDecorator, 4), maybe(fc.oneof(roleDecorator, encryptedDecorator), 12))
    .map((ds) => ds.filter((d) => d !== undefined) as Array<{ kind: string; target?: string; options: unknown }>),
});
const modelOptions = fc.oneof(
  { arbitrary: fc.tuple(fc.record({ db: fc.constantFrom('app', 'hr'), collection: fc.constantFrom('things', 'people') }), keyOptions).map(([a, b]) => ({ ...a, ...b })), weight: 8 },
  { arbitrary: fc.record({ db: fc.oneof(fc.constantFrom('a.b', '', 'x'.repeat(64), 'sp ace', '$db', 'nul\u0000'), junk), collection: fc.oneof(fc.constantFrom('', 'system.users', 'a$b', 'ok'), junk) }), weight: 1 },
  { arbitrary: junk, weight: 1 },
);
const classSpec = fc.record({
  model: fc.option(modelOptions, { freq: 12, nil: undefined }), // undefined once in 12
  properties: fc.array(property, { maxLength: 5 }),
  compound: fc.array(fc.tuple(fc.dictionary(fc.constantFrom('name', 'email', 'nested.zip', 'tags', 'missing', 'secret'), fc.constantFrom(1, -1, 'text')), fc.record({ unique: maybe(fc.boolean()) })), { maxLength: 1 }),
  extendsNext: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
});

interface Spec {
  model: unknown;
  properties: Array<{ key: string; isStatic: boolean; designType: number; decorators: Array<{ kind: string; target?: string; options: unknown }> }>;
  compound: Array<[Record<string, 1 | -1 | 'text'>, object]>;
  extendsNext: boolean;
}

/** Builds the classes bottom-up (class i may embed or extend class i + 1) and decorates them by hand, as TypeScript would. */
function buildClasses(specs: Spec[]): Function[] {
  const classes: Function[] = [];
  for (let i = specs.length - 1; i >= 0; i--) {
    const spec = specs[i];
    const base = spec.extendsNext && classes[0] ? classes[0] : Object;
    const cls = class extends (base as new () => object) {};
    Object.defineProperty(cls, 'name', { value: `Generated${i}` });
    for (const prop of spec.properties) {
      const target = prop.isStatic ? cls : cls.prototype;
      Reflect.defineMetadata('design:type', DESIGN_TYPES[prop.designType], target, prop.key);
      for (const d of prop.decorators) {
        const next = classes[0];
        const thunk = (): Function => {
          switch (d.target) {
            case 'next': return next;
            case 'self': return cls;
            case 'throws': throw new Error('not yet declared');
            case 'number': return 7 as never;
            case 'arrow': return () => 1;
            default: return undefined as never;
          }
        };
        const options = d.options as never;
        const apply = {
          Id: () => Id(options), Field: () => Field(options), ArrayField: () => ArrayField(options), Index: () => Index(options),
          Embedded: () => Embedded(thunk, options), EmbeddedArray: () => EmbeddedArray(thunk, options),
          Encrypted: () => Encrypted(options) as PropertyDecorator,
        }[d.kind]!();
        apply(target, prop.key);
      }
    }
    for (const [key, options] of spec.compound) CompoundIndex(key, options)(cls);
    if (spec.model !== undefined) Model(spec.model as never)(cls);
    classes.unshift(cls);
  }
  return classes;
}

/** A field name MongoDB can store and the repository can address by a dotted path. */
const storable = (name: string) => name !== '' && !name.startsWith('$') && !name.includes('.') && !name.includes('\u0000') && !['__proto__', 'constructor', 'prototype'].includes(name) && !(name in Object.prototype);

function problemsOf(shape: ModelShape, path = ''): string[] {
  const out: string[] = [];
  for (const field of shape.fields.values()) {
    const at = `${path}${field.name}`;
    if (!storable(field.name)) out.push(`accepted the field name ${JSON.stringify(at)}`);
    if (field.encrypted && !field.encrypted.key) out.push(`${at} is encrypted without a data key`);
    if (field.encrypted?.algorithm === 'Deterministic' && field.encrypted.bsonType === undefined) out.push(`${at} is Deterministic without a bsonType`);
    if (field.embedded) out.push(...problemsOf(field.embedded, `${at}.`));
  }
  return out;
}

const outcomes = { registered: 0, refused: new Map<string, number>() };
test.after(() => console.log(`model definitions tried: ${outcomes.registered + [...outcomes.refused.values()].reduce((a, b) => a + b, 0)}`));

test('any decorated classes either register, usable, or are refused with a ModelDefinitionError', (t) => {
  fc.assert(fc.property(fc.array(classSpec, { minLength: 1, maxLength: 3 }), (specs) => {
    const classes = buildClasses(specs as Spec[]);
    let registry: MetadataRegistry;
    try {
      registry = new MetadataRegistry([classes[0]]);
    } catch (err) {
      if (!(err instanceof ModelDefinitionError)) throw new Error(untyped(err));
      outcomes.refused.set(err.code, (outcomes.refused.get(err.code) ?? 0) + 1);
      return;
    }
    outcomes.registered++;
    const model = registry.get(classes[0]);
    const problems = problemsOf(model);
    if (problems.length) throw new Error(problems.join('; '));
    // Schemas are generated from what was accepted (alt names resolved to a fixed id); what they
    // cannot express (keys chosen by a function, fields inside arrays) is refused with a typed error.
    for (const generate of [() => buildSchemaMap(registry, () => new UUID()), () => buildValidator(model, () => new UUID())]) {
      try { generate(); } catch (err) { if (!(err instanceof StrongboxError)) throw new Error(`schema generation of an accepted model: ${untyped(err)}`); }
    }
  }), runs(1500));
  t.log(`registered ${outcomes.registered}; refused: ${[...outcomes.refused].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  t.true(outcomes.registered > 10, 'valid definitions are generated too, so acceptance is exercised');
  t.true(outcomes.refused.size > 10, 'many different definition errors are exercised');
});

test('field names MongoDB cannot store, or that reach a prototype, are refused by name', (t) => {
  for (const name of ['__proto__', 'constructor', 'prototype', '$where', 'a.b', '', 'x\u0000y']) {
    const cls = class {};
    Reflect.defineMetadata('design:type', String, cls.prototype, name);
    Field()(cls.prototype, name);
    Model({ db: 'app', collection: 'names' })(cls);
    const err = t.throws(() => new MetadataRegistry([cls]), { instanceOf: ModelDefinitionError }, JSON.stringify(name));
    t.is(err?.code, 'MODEL_FIELD_NAME_INVALID');
  }
});
