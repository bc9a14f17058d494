import type { Binary } from 'mongodb';
import { KeyError } from '../errors';
import type { KeyRef, ModelShape } from '../metadata/types';

/**
 * Data key ids by key alt name. Schemas name keys by UUID, while models may name them by alt
 * name; looking those up in the key vault is async and belongs elsewhere, so the caller hands
 * in what it found.
 */
export type KeyAltNameResolver = ReadonlyMap<string, Binary> | ((altName: string) => Binary | undefined);

/** The schema `keyId` for a key: `[UUID]`, or a JSON pointer string for a per-document key. */
export function schemaKeyId(key: Exclude<KeyRef, { kind: 'altNameFunction' }>, resolver: KeyAltNameResolver | undefined): Binary[] | string {
  switch (key.kind) {
    case 'id':
      return [key.id];
    case 'altNameFromField':
      return key.pointer;
    case 'altName':
      return [resolveAltName(key.altName, resolver)];
  }
}

function resolveAltName(altName: string, resolver: KeyAltNameResolver | undefined): Binary {
  const id = resolver === undefined ? undefined : typeof resolver === 'function' ? resolver(altName) : resolver.get(altName);
  if (id) return id;
  throw new KeyError('KEY_ALT_NAME_UNRESOLVED', `No data key id is known for key alt name ${JSON.stringify(altName)}, and a schema must name keys by id.`, {
    fix: `create the data key with keyAltNames: [${JSON.stringify(altName)}] (or look it up in the key vault) and pass its _id in the alt-name resolver`,
  });
}

/** Every fixed key alt name the models use, so the data keys can be created or looked up before building schemas. */
export function collectKeyAltNames(models: Iterable<ModelShape & { defaultKey?: KeyRef }>): string[] {
  const names = new Set<string>();
  const visit = (shape: ModelShape): void => {
    for (const field of shape.fields.values()) {
      if (field.encrypted?.key.kind === 'altName') names.add(field.encrypted.key.altName);
      if (field.embedded) visit(field.embedded);
    }
  };
  for (const model of models) {
    if (model.defaultKey?.kind === 'altName') names.add(model.defaultKey.altName);
    visit(model);
  }
  return [...names];
}
