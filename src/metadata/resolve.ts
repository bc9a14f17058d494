import { definitionError, show, type Site } from './definitionError';
import { encryptionSpecOf } from './encryptionRules';
import { checkRepresentable, valueTypeOf } from './fieldTypes';
import { parseKeyOptions } from './keys';
import { validateIndexes, type PendingIndex } from './indexRules';
import type { ModelOptions } from './options';
import { walkPath } from './paths';
import { variantOf, withVariants } from './variants';
import { ownRawClass, rawHierarchy, type RawProperty } from './store';
import type { EntityMetadata, FieldMetadata, HookEvent, KeyRef, ModelMetadata, ModelShape, StampKind } from './types';

/** State shared while one @Model class and everything it embeds is resolved. */
interface Resolution {
  model: Function;
  defaultKey?: KeyRef;
  indexes: PendingIndex[];
  pointers: Array<{ site: Site; key: Extract<KeyRef, { kind: 'altNameFromField' }> }>;
  stamps: Partial<Record<StampKind, string>>;
}

/** Where a field sits: its path from the document root and the encrypted field it lies beneath, if any. */
interface Position {
  path: string[];
  encryptedAncestor?: Site;
  /** Classes being resolved on the way down, to refuse a class that embeds itself. */
  stack: Function[];
}

/** Validates a @Model class (and its embedded classes and base classes) into ModelMetadata. */
export function resolveModel(target: Function): ModelMetadata {
  const own = ownRawClass(target);
  const site: Site = { declaredOn: target };
  if (!own?.model) {
    const base = rawHierarchy(target).reverse().find(({ ctor, raw }) => ctor !== target && raw.model)?.ctor;
    if (base && own?.variant !== undefined) return variantOf(resolveModel(base), target);
    throw definitionError('MODEL_NOT_DECORATED', site,
      base ? 'the class inherits @Model from a base class, which would store two classes in one collection' : 'the class has no @Model decorator',
      base ? `give ${target.name} its own @Model({ db, collection }), or store it in ${base.name}'s collection as a variant: @Model({ …, discriminator: 'kind' }) on ${base.name} and @Variant('${target.name.toLowerCase()}') on ${target.name}`
        : `@Model({ db: 'app', collection: '${target.name.toLowerCase()}s' }) on the class itself`);
  }
  const modelOptions = own.model;
  checkNamespace(modelOptions, site);
  const metadata = resolveStored(target, modelOptions);
  return modelOptions.discriminator === undefined ? metadata : withVariants(metadata, modelOptions.discriminator, (variant) => resolveStored(variant, modelOptions));
}

/** A class stored under `modelOptions` (the @Model class itself, or one of its variants). */
function resolveStored(target: Function, modelOptions: ModelOptions): ModelMetadata {
  const resolution: Resolution = {
    model: target,
    defaultKey: parseKeyOptions(modelOptions, { declaredOn: target }, 'Model'),
    indexes: [],
    pointers: [],
    stamps: {},
  };
  const shape = resolveShape(target, resolution, { path: [], stack: [] });
  for (const { site: pointerSite, key } of resolution.pointers) checkPointerTarget(shape, key, pointerSite);
  return {
    ...shape,
    db: modelOptions.db,
    collection: modelOptions.collection,
    namespace: `${modelOptions.db}.${modelOptions.collection}`,
    indexes: validateIndexes(shape, resolution.indexes),
    ...(resolution.defaultKey ? { defaultKey: resolution.defaultKey } : {}),
    entity: { stamps: resolution.stamps, hooks: resolveHooks(target) },
  };
}

/** The entity facts of a stand-in model that is no class of the application: no stamps, no hooks. */
export const NO_ENTITY: EntityMetadata = Object.freeze({
  stamps: Object.freeze({}),
  hooks: Object.freeze({ beforeInsert: [], afterInsert: [], beforeUpdate: [], afterUpdate: [], beforeDelete: [], afterDelete: [], afterLoad: [] }),
});

const HOOK_EVENTS: HookEvent[] = ['beforeInsert', 'afterInsert', 'beforeUpdate', 'afterUpdate', 'beforeDelete', 'afterDelete', 'afterLoad'];

/** Hook methods of the class and its bases, base first; a method overridden in a subclass runs once, as overridden. */
function resolveHooks(target: Function): EntityMetadata['hooks'] {
  const hooks = Object.fromEntries(HOOK_EVENTS.map((e) => [e, [] as string[]])) as Record<HookEvent, string[]>;
  for (const { ctor, raw } of rawHierarchy(target)) {
    for (const { event, method } of raw.hooks) {
      const site: Site = { declaredOn: ctor, property: String(method), model: target };
      if (typeof method === 'symbol' || typeof (target.prototype as Record<string, unknown>)[method] !== 'function') {
        throw definitionError('MODEL_HOOK_INVALID', site, `@${event[0].toUpperCase()}${event.slice(1)}() must decorate an instance method with a string name`,
          'declare the hook as a method of the model, e.g. @BeforeInsert() normalize() { … }');
      }
      if (!hooks[event].includes(method)) hooks[event].push(method);
    }
  }
  return hooks;
}

function resolveShape(target: Function, resolution: Resolution, position: Position): ModelShape {
  const hierarchy = rawHierarchy(target);
  // Map.set keeps the first insertion slot, so base-class fields come first and overrides stay in place.
  const properties = new Map<string | symbol, RawProperty>();
  for (const { ctor, raw } of hierarchy) {
    for (const [key, prop] of raw.properties) properties.set(key, prop);
    for (const { spec, options } of raw.compoundIndexes) {
      const key = Object.fromEntries(Object.entries(spec).map(([path, dir]) => [[...position.path, path].join('.'), dir]));
      resolution.indexes.push({ site: { declaredOn: ctor, model: resolution.model }, spec: { key, ...options } });
    }
  }
  if (position.path.length > 0) refuseEntityDeclarations(hierarchy, position, resolution);
  const stack = [...position.stack, target];
  const fields = new Map<string, FieldMetadata>();
  for (const prop of properties.values()) {
    const field = resolveField(prop, resolution, { ...position, stack });
    fields.set(field.name, field);
  }
  return { target, fields };
}

function resolveField(prop: RawProperty, resolution: Resolution, position: Position): FieldMetadata {
  const name = String(prop.key);
  const path = [...position.path, name];
  const site: Site = { declaredOn: prop.declaredOn, property: name, model: resolution.model, path: path.join('.') };
  checkDeclaration(prop, site);

  const embeddedTarget = prop.embedded ? embeddedClass(prop, site, position.stack) : undefined;
  const valueType = valueTypeOf(prop, site);

  if (prop.encrypted && position.encryptedAncestor) {
    throw definitionError('MODEL_ENCRYPTED_BENEATH_RANDOM', site,
      `the field lies inside ${describeAncestor(position.encryptedAncestor)}, which is already encrypted whole, so it cannot be encrypted again`,
      'remove @Encrypted here (the enclosing field already protects it), or stop encrypting the enclosing field whole and encrypt its fields one by one');
  }
  if (prop.id && prop.encrypted) {
    throw definitionError('MODEL_ID_ENCRYPTED', site, '_id cannot be encrypted: MongoDB needs it in the clear to identify the document',
      'remove @Encrypted from _id and keep the secret in another field');
  }
  const encrypted = prop.encrypted ? encryptionSpecOf(prop.encrypted, valueType.bsonType, site, resolution.defaultKey) : undefined;
  // After the encryption rules, which give the more telling reason for an encrypted null or undefined.
  checkRepresentable(valueType, site);
  if (encrypted?.key.kind === 'altNameFromField') resolution.pointers.push({ site, key: encrypted.key });

  if (prop.stamp) recordStamp(prop, resolution, site);
  const defaultValue = defaultOf(prop, site);

  for (const options of prop.indexes) {
    const { direction = 1, ...rest } = options;
    resolution.indexes.push({ site, spec: { key: { [path.join('.')]: direction }, ...rest } });
  }

  const embedded = embeddedTarget
    ? resolveShape(embeddedTarget, resolution, {
      path,
      encryptedAncestor: position.encryptedAncestor ?? (encrypted ? site : undefined),
      stack: position.stack,
    })
    : undefined;

  return {
    name,
    ...(valueType.bsonType === undefined ? {} : { bsonType: valueType.bsonType }),
    ...(valueType.itemBsonType === undefined ? {} : { itemBsonType: valueType.itemBsonType }),
    isArray: valueType.isArray,
    optional: isOptional(prop),
    isId: prop.id !== undefined,
    ...(defaultValue ? { default: defaultValue } : {}),
    ...(embedded ? { embedded } : {}),
    ...(encrypted ? { encrypted } : {}),
  };
}

const ROLES = ['Id', 'Field', 'Embedded', 'EmbeddedArray', 'ArrayField', 'CreatedAt', 'UpdatedAt', 'Version'];

/** Timestamps and the version are fields of the document itself, one of each, the version in the clear. */
function recordStamp(prop: RawProperty, resolution: Resolution, site: Site): void {
  const kind = prop.stamp!;
  const decorator = stampDecorator(kind);
  const taken = resolution.stamps[kind];
  if (taken !== undefined) {
    throw definitionError('MODEL_STAMP_DUPLICATE', site, `${decorator} is already on ${taken}; a model has one such field`,
      `keep ${decorator} on one property`);
  }
  if (kind === 'version' && prop.encrypted) {
    throw definitionError('MODEL_VERSION_ENCRYPTED', site, 'the version is compared and incremented by the server, which cannot do either on ciphertext',
      'remove @Encrypted from the version field (it holds no secret)');
  }
  resolution.stamps[kind] = site.property!;
}

function stampDecorator(kind: StampKind): string {
  return `@${kind[0].toUpperCase()}${kind.slice(1)}()`;
}

/** Stamps and hooks belong to the stored document, not to a class embedded in it. */
function refuseEntityDeclarations(hierarchy: ReturnType<typeof rawHierarchy>, position: Position, resolution: Resolution): void {
  for (const { ctor, raw } of hierarchy) {
    const stamp = [...raw.properties.values()].find((p) => p.stamp);
    const hook = raw.hooks[0];
    if (!stamp && !hook) continue;
    const what = stamp ? `${stampDecorator(stamp.stamp!)} on ${String(stamp.key)}` : `the hook ${String(hook.method)}`;
    throw definitionError('MODEL_ENTITY_DECLARATION_EMBEDDED', { declaredOn: ctor, model: resolution.model, path: position.path.join('.') },
      `${what} is declared on an embedded class; timestamps, versions and hooks belong to the @Model class`,
      `move it to ${resolution.model.name}`);
  }
}

function defaultOf(prop: RawProperty, site: Site): (() => unknown) | undefined {
  const given = [prop.field, prop.embedded?.options, prop.arrayField, prop.encrypted].map((o) => o?.default).filter((d) => d !== undefined);
  if (given.length === 0) return undefined;
  if (given.length > 1 || typeof given[0] !== 'function') {
    throw definitionError('MODEL_DEFAULT_INVALID', site,
      given.length > 1 ? 'two decorators give a default' : `the default is ${show(given[0])}, not a function`,
      'give one default as a function, e.g. @Field({ default: () => [] }), so every document gets its own value');
  }
  if (prop.id) {
    throw definitionError('MODEL_DEFAULT_INVALID', site, 'an _id default would give every document the same id unless the function is careful',
      'leave _id out: inserts generate an ObjectId');
  }
  return given[0] as () => unknown;
}

function checkDeclaration(prop: RawProperty, site: Site): void {
  if (typeof prop.key === 'symbol' || prop.isStatic) {
    throw definitionError('MODEL_PROPERTY_KEY', site,
      typeof prop.key === 'symbol' ? 'a symbol-keyed property cannot be stored in a document' : 'a static property is not part of a document',
      'decorate an instance property with a string name');
  }
  const unstorable = fieldNameProblem(prop.key);
  if (unstorable) {
    throw definitionError('MODEL_FIELD_NAME_INVALID', site, `${show(prop.key)} cannot be a field name: ${unstorable}`,
      'rename the property (field names are stored as written)');
  }
  const roles = prop.decorators.filter((d) => ROLES.includes(d));
  const repeated = prop.decorators.filter((d, i) => d !== 'Index' && prop.decorators.indexOf(d) !== i);
  if (roles.length > 1 || repeated.length > 0) {
    throw definitionError('MODEL_DECORATOR_CONFLICT', site,
      `the decorators @${prop.decorators.join(', @')} contradict each other`,
      'use one of @Id, @Field, @Embedded, @EmbeddedArray or @ArrayField per property, each once (@Encrypted and @Index combine with them)');
  }
  if (prop.id && prop.key !== '_id') {
    throw definitionError('MODEL_ID_NAME', site, 'field names are stored as written, so @Id on a property not named _id would not be the document id',
      'rename the property to _id');
  }
}

/** Why MongoDB, the repository's dotted paths or plain JavaScript objects cannot carry this name. */
function fieldNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.startsWith('$')) return 'MongoDB reads a leading $ as an operator';
  if (name.includes('.')) return 'MongoDB reads a dot as a path into an embedded document';
  if (name.includes('\0')) return 'MongoDB refuses the NUL character in field names';
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') return "it would reach an object's prototype when documents are read and written";
  // Every object has these (toString, valueOf, hasOwnProperty…): a document without the field would
  // still answer a function for it, and an entity with it would lose the method.
  if (name in Object.prototype) return `every JavaScript object already has a ${name} (from Object.prototype), which a document leaving the field out would still answer`;
  return undefined;
}

function embeddedClass(prop: RawProperty, site: Site, stack: Function[]): Function {
  let target: unknown;
  try {
    target = prop.embedded!.factory();
  } catch (cause) {
    throw definitionError('MODEL_EMBEDDED_TARGET', site, `the embedded class thunk threw (${(cause as Error).message})`,
      'pass a function returning the class, e.g. @Embedded(() => Address)');
  }
  if (typeof target !== 'function') {
    throw definitionError('MODEL_EMBEDDED_TARGET', site, `the embedded class thunk returned ${target === undefined ? 'undefined (is the class declared after use, or a circular import?)' : typeof target}`,
      'pass a function returning the class, e.g. @Embedded(() => Address)');
  }
  if (stack.includes(target)) {
    throw definitionError('MODEL_EMBEDDED_CYCLE', site, `${target.name} embeds itself (${[...stack, target].map((c) => c.name).join(' → ')}), which no document schema can describe`,
      'break the cycle: store a reference (an ObjectId) instead of the embedded document');
  }
  return target;
}

function isOptional(prop: RawProperty): boolean {
  return Boolean(prop.field?.optional || prop.embedded?.options.optional || prop.arrayField?.optional || prop.encrypted?.optional);
}

function describeAncestor(site: Site): string {
  return site.path ?? site.property ?? site.declaredOn.name;
}

/** A per-document key is the value of another field: it must be a plain string MongoDB can read before encrypting. */
function checkPointerTarget(shape: ModelShape, key: Extract<KeyRef, { kind: 'altNameFromField' }>, site: Site): void {
  const { chain, unresolved } = walkPath(shape, key.path);
  const target = chain[chain.length - 1];
  const problem = unresolved.length > 0 ? `names no declared field of ${shape.target.name}`
    : chain.some((f) => f.encrypted) ? 'names an encrypted field, whose value MongoDB cannot read to pick the key'
    : chain.some((f) => f.isArray) ? 'passes through an array, so it does not name a single value'
    : target.bsonType !== 'string' ? `names a field of type '${target.bsonType ?? 'unknown'}', but a key alt name is a string`
    : undefined;
  if (!problem) return;
  throw definitionError('MODEL_KEY_POINTER_TARGET', site, `the key pointer ${JSON.stringify(key.pointer)} ${problem}`,
    `point keyAltName at an unencrypted string field of the document, e.g. '/employeeNo' with @Field() employeeNo!: string`);
}

const DB_NAME_FORBIDDEN = /[/\\. "$\0]/;

function checkNamespace({ db, collection }: ModelOptions, site: Site): void {
  if (typeof db !== 'string' || db === '' || DB_NAME_FORBIDDEN.test(db) || db.length >= 64) {
    throw definitionError('MODEL_NAMESPACE_INVALID', site, `${show(db)} is not a valid database name`,
      `@Model({ db: 'hr', collection: … }): 1–63 characters without / \\ . space " $`);
  }
  if (typeof collection !== 'string' || collection === '' || collection.includes('$') || collection.includes('\0') || collection.startsWith('system.')) {
    throw definitionError('MODEL_NAMESPACE_INVALID', site, `${show(collection)} is not a valid collection name`,
      `@Model({ db: …, collection: 'employees' }): non-empty, without $, not starting with system.`);
  }
}
