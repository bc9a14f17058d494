import type { CodeOf } from '../errorCatalogue';
import { ModelDefinitionError } from '../errors';

/** Where a definition problem sits, named the way the user wrote it. */
export interface Site {
  /** The class whose body holds the decorator. */
  declaredOn: Function;
  property?: string;
  /** The @Model class being resolved, when it differs from `declaredOn` (inheritance, embedding). */
  model?: Function;
  /** Dotted path from the model's root, when the property sits in an embedded document. */
  path?: string;
}

function describeSite(site: Site): string {
  const own = site.property === undefined ? site.declaredOn.name : `${site.declaredOn.name}.${site.property}`;
  const atHome = site.model === site.declaredOn && (site.path === undefined || site.path === site.property);
  if (!site.model || atHome) return own;
  return `${own} (in ${site.model.name}${site.path ? `.${site.path}` : ''})`;
}

/** A value the user gave, for a message; never throws (JSON.stringify does for BigInt and cycles). */
export function show(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch { /* a BigInt or a cycle */ }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  return `a ${typeof value}`;
}

/** "Class.property: cause. Fix: …" — every definition error reads the same way. */
export function definitionError(code: CodeOf<'ModelDefinitionError'>, site: Site, cause: string, fix: string): ModelDefinitionError {
  return new ModelDefinitionError(code, `${describeSite(site)}: ${cause}.`, { fix });
}
