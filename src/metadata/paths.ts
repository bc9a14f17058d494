import type { FieldMetadata, ModelShape } from './types';

export interface PathWalk {
  /** The declared fields the path passes through, outermost first. */
  chain: FieldMetadata[];
  /** Segments left over once no declared field matched (empty when the whole path resolved). */
  unresolved: string[];
  /** The path ended on an element of the last array field ('tags.0') rather than the field itself. */
  endsInElement: boolean;
}

// 'contacts.0.phone', 'contacts.$.phone', 'contacts.$[].phone', 'contacts.$[x].phone'
const ELEMENT_SELECTOR = /^(?:\d+|\$|\$\[\]|\$\[[A-Za-z][A-Za-z0-9]*\])$/;

/**
 * Follows dotted-path segments through declared fields and embedded documents. After an
 * array field one numeric index or positional operator is stepped over, as MongoDB does.
 */
export function walkPath(shape: ModelShape, segments: readonly string[]): PathWalk {
  const chain: FieldMetadata[] = [];
  let fields: ReadonlyMap<string, FieldMetadata> | undefined = shape.fields;
  let endsInElement = false;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = chain[chain.length - 1];
    if (last?.isArray && !endsInElement && ELEMENT_SELECTOR.test(segment)) {
      endsInElement = true;
      continue;
    }
    const field: FieldMetadata | undefined = fields?.get(segment);
    if (!field) return { chain, unresolved: segments.slice(i), endsInElement };
    chain.push(field);
    fields = field.embedded?.fields;
    endsInElement = false;
  }
  return { chain, unresolved: [], endsInElement };
}
