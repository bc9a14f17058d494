import type { HookEvent, ModelMetadata } from '../../metadata/types';

/**
 * Calls the model's hook methods for `event` on each entity, in declaration order (base class
 * first), one after another: a hook may be async, and a later hook sees what an earlier one did.
 * A throwing before-hook stops the write before anything is encrypted or sent.
 */
export async function runHooks(model: ModelMetadata, event: HookEvent, entities: readonly object[]): Promise<void> {
  const methods = model.entity.hooks[event];
  if (methods.length === 0) return;
  for (const entity of entities) {
    for (const method of methods) await (entity as Record<string, () => unknown>)[method]();
  }
}

export function hasHooks(model: ModelMetadata, event: HookEvent): boolean {
  return model.entity.hooks[event].length > 0;
}
