import { definitionError } from './definitionError';
import { resolveModel } from './resolve';
import type { ModelMetadata } from './types';

/**
 * The validated models of one application. Decorators only record what was written; a
 * registry resolves it, so every definition error surfaces at registration and separate
 * registries (one per test, say) never see each other's models.
 */
export class MetadataRegistry implements Iterable<ModelMetadata> {
  private readonly byClass = new Map<Function, ModelMetadata>();
  private readonly byNs = new Map<string, ModelMetadata>();

  constructor(models: Iterable<Function> = []) {
    this.register(...models);
  }

  /**
   * Adds models; all or nothing, so a failed call leaves the registry as it was. Re-registering a
   * class is a no-op. A @Model class with variants and each of its @Variant classes bring the
   * whole collection: the base (the union of all variants) and every variant.
   */
  register(...models: Function[]): this {
    const added = new Map<string, ModelMetadata>();
    for (const target of models) {
      if (this.byClass.has(target) || [...added.values()].some((m) => m.target === target || m.variants && [...m.variants.byValue.values()].some((v) => v.target === target))) continue;
      const resolved = resolveModel(target);
      const metadata = resolved.variant ? resolveModel(resolved.variant.base) : resolved;
      const holder = this.byNs.get(metadata.namespace) ?? added.get(metadata.namespace);
      if (holder) {
        const late = holder.target === metadata.target;
        throw definitionError(late ? 'MODEL_VARIANT_LATE' : 'MODEL_NAMESPACE_DUPLICATE', { declaredOn: target },
          late ? `${holder.target.name} was registered before the variant ${target.name} was defined, so its schema map and validator do not cover it`
            : `the namespace ${metadata.namespace} is already used by ${holder.target.name}; two classes cannot share one collection unless they are variants of one @Model({ discriminator })`,
          late ? `import ${target.name} before creating the client that registers ${holder.target.name}`
            : `give ${target.name} its own @Model({ db, collection }), register only one of the two, or make them variants (docs/entities.md)`);
      }
      added.set(metadata.namespace, metadata);
    }
    for (const metadata of added.values()) {
      this.byClass.set(metadata.target, metadata);
      for (const variant of metadata.variants?.byValue.values() ?? []) if (variant.target !== metadata.target) this.byClass.set(variant.target, variant);
      this.byNs.set(metadata.namespace, metadata);
    }
    return this;
  }

  has(target: Function): boolean {
    return this.byClass.has(target);
  }

  get(target: Function): ModelMetadata {
    const metadata = this.byClass.get(target);
    if (metadata) return metadata;
    throw definitionError('MODEL_NOT_REGISTERED', { declaredOn: target }, 'the class is not registered with this Strongbox registry',
      `list ${target.name} in the models given to the registry (or createClient({ models: [...] }))`);
  }

  /** The model stored in 'db.collection', if any. */
  byNamespace(namespace: string): ModelMetadata | undefined {
    return this.byNs.get(namespace);
  }

  /** The model of each collection (for collections with variants: the union of them). */
  [Symbol.iterator](): Iterator<ModelMetadata> {
    return this.byNs.values();
  }
}
