/** The earlier names of renamed fields, per class. */
const previousNames = new WeakMap<Function, Map<string, string>>();

/**
 * `@RenamedFrom('fullName')` on a field: the field was called `fullName` before. Migration
 * generation then renames the stored field in place instead of reading the change as one field
 * removed and another added. Once the migration is applied everywhere the decorator can go.
 */
export function RenamedFrom(previousName: string) {
  return (prototype: object, property: string | symbol): void => {
    const owner = (prototype as { constructor: Function }).constructor;
    const names = previousNames.get(owner) ?? new Map<string, string>();
    names.set(String(property), previousName);
    previousNames.set(owner, names);
  };
}

/** The earlier name of each renamed field the class declares, by its current name. */
export function renamedFieldsOf(target: Function): ReadonlyMap<string, string> {
  return previousNames.get(target) ?? new Map();
}
