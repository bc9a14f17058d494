/*
 * What decorators record, untouched. Validation and resolution happen later in a
 * MetadataRegistry, so a mistake surfaces as one readable error when models are
 * registered, and separate registries never share derived state.
 */
import 'reflect-metadata';
import type {
  ArrayFieldOptions, CompoundIndexOptions, EmbeddedOptions, EncryptedOptions, FieldOptions, IdOptions,
  IndexOptions, ModelOptions,
} from './options';
import type { HookEvent, IndexDirection, StampKind } from './types';

export interface RawProperty {
  key: string | symbol;
  /** The class whose body holds the decorators, for error messages. */
  declaredOn: Function;
  isStatic: boolean;
  designType?: unknown;
  id?: IdOptions;
  field?: FieldOptions;
  embedded?: { factory: () => unknown; isArray: boolean; options: EmbeddedOptions };
  arrayField?: ArrayFieldOptions;
  encrypted?: EncryptedOptions;
  indexes: IndexOptions[];
  /** Set by @CreatedAt, @UpdatedAt and @Version: the field writes maintain. */
  stamp?: StampKind;
  /** Decorator names in application order, to report conflicting combinations. */
  decorators: string[];
}

export interface RawCompoundIndex {
  spec: Record<string, IndexDirection>;
  options: CompoundIndexOptions;
}

export interface RawClass {
  model?: ModelOptions;
  compoundIndexes: RawCompoundIndex[];
  properties: Map<string | symbol, RawProperty>;
  /** The discriminator value of a @Variant class. */
  variant?: string;
  /** Methods declared as lifecycle hooks, in declaration order. */
  hooks: Array<{ event: HookEvent; method: string | symbol }>;
}

const store = new WeakMap<Function, RawClass>();

export function ownRawClass(ctor: Function): RawClass | undefined {
  return store.get(ctor);
}

export function rawClassFor(ctor: Function): RawClass {
  let raw = store.get(ctor);
  if (!raw) {
    raw = { compoundIndexes: [], properties: new Map(), hooks: [] };
    store.set(ctor, raw);
  }
  return raw;
}

/** The entry for a decorated property; `target` is what a property decorator receives. */
export function rawPropertyFor(target: object, key: string | symbol, decorator: string): RawProperty {
  const isStatic = typeof target === 'function';
  const ctor = isStatic ? (target as Function) : (target.constructor as Function);
  const raw = rawClassFor(ctor);
  let prop = raw.properties.get(key);
  if (!prop) {
    prop = {
      key,
      declaredOn: ctor,
      isStatic,
      designType: Reflect.getMetadata('design:type', target, key),
      indexes: [],
      decorators: [],
    };
    raw.properties.set(key, prop);
  }
  prop.decorators.push(decorator);
  return prop;
}

/** Base classes first, so a subclass's declaration of a property replaces the inherited one. */
export function rawHierarchy(ctor: Function): Array<{ ctor: Function; raw: RawClass }> {
  const chain: Array<{ ctor: Function; raw: RawClass }> = [];
  for (let c: unknown = ctor; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const raw = store.get(c);
    if (raw) chain.unshift({ ctor: c, raw });
  }
  return chain;
}
