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

  /** Adds models; all or nothing, so a failed call leaves the registry as it was. Re-registering a class is a no-op. */
  register(...models: Function[]): this {
    const added = new Map<string, ModelMetadata>();
    for (const target of models) {
      if (this.byClass.has(target) || [...added.values()].some((m) => m.target === target)) continue;
      const metadata = resolveModel(target);
      const holder = this.byNs.get(metadata.namespace) ?? added.get(metadata.namespace);
      if (holder) {
        throw definitionError('MODEL_NAMESPACE_DUPLICATE', { declaredOn: target },
          `the namespace ${metadata.namespace} is already used by ${holder.target.name}; two classes cannot share one collection`,
          `give ${target.name} its own @Model({ db, collection }), or register only one of the two`);
      }
      added.set(metadata.namespace, metadata);
    }
    for (const metadata of added.values()) {
      this.byClass.set(metadata.target, metadata);
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

  [Symbol.iterator](): Iterator<ModelMetadata> {
    return this.byClass.values();
  }
}
