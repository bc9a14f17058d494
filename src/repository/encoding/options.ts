import { ClientSession, type MongoClient } from 'mongodb';
import { COLLATION_SETTINGS, OPTIONS, type OptionTreatment } from '../policy/table';
import { checkExpression } from './expressions';
import { invalid, isPlainObject, safeEntries } from './guards';
import { DerivedScope, type Scope } from './scope';

export type OptionsEntry = keyof typeof OPTIONS;

/**
 * Checks the options of a repository call against the policy table: each known option must hold
 * what it is for (a number, a flag, a string comment, collation settings, an index hint), and an
 * option the table does not list is refused rather than passed to the driver. Returns the names
 * `let` defines, for the expressions that may use them.
 */
export function checkOptions(entry: OptionsEntry, options: unknown, scope: Scope, client?: MongoClient): Set<string> {
  const variables = new Set<string>();
  if (options === undefined) return variables;
  const where = `the options of ${entry} on ${scope.name}`;
  if (!isPlainObject(options)) throw invalid('INPUT_OPTIONS', `${where} must be an object.`, 'pass an options object such as { session }.');
  const allowed = OPTIONS[entry];
  for (const [name, value] of safeEntries(options, where)) {
    if (value === undefined) continue;
    const treatment: OptionTreatment | undefined = allowed[name];
    if (!treatment) {
      throw invalid('INPUT_UNKNOWN_OPTION', `${name} is not an option Strongbox accepts in ${entry} on ${scope.name}.`, `use ${Object.keys(allowed).join(', ')}; options the query policy does not know are refused, since some carry values to the server in the clear.`);
    }
    const bad = (what: string) => invalid('INPUT_OPTIONS', `The ${name} option of ${entry} on ${scope.name} must be ${what}.`, `pass ${what}.`);
    switch (treatment) {
      case 'number': {
        // Counts and milliseconds the server takes as non-negative integers, maxTimeMS and maxAwaitTimeMS as 32-bit ones.
        const most = name === 'maxTimeMS' || name === 'maxAwaitTimeMS' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > most) throw bad(`an integer from 0 to ${most}`);
        break;
      }
      case 'boolean': if (typeof value !== 'boolean') throw bad('true or false'); break;
      case 'comment': if (typeof value !== 'string') throw bad('a string'); break;
      case 'collation':
        if (!isPlainObject(value) || value.locale === undefined) throw bad('a collation such as { locale: "en", strength: 2 }');
        for (const [key, setting] of safeEntries(value, where)) {
          const rule = Object.hasOwn(COLLATION_SETTINGS, key) ? COLLATION_SETTINGS[key] : undefined;
          if (!rule) throw bad(`a collation of the settings ${Object.keys(COLLATION_SETTINGS).join(', ')} (not ${key})`);
          if (!rule.fits(setting)) throw bad(`a collation whose ${key} is ${rule.takes}`);
        }
        break;
      case 'hint':
        if (typeof value === 'string') break;
        if (!isPlainObject(value)) throw bad('an index name or an index key pattern');
        for (const [path, direction] of safeEntries(value, where)) {
          if (direction !== 1 && direction !== -1 && !INDEX_KINDS.has(direction as string)) throw bad("an index key pattern such as { field: 1 } (1, -1, 'hashed', 'text', '2d' or '2dsphere')");
          scope.resolve(path, 'hint');
        }
        break;
      case 'let': {
        if (!isPlainObject(value)) throw bad('an object of variables');
        // Variables are constants evaluated without a document (MongoDB manual, "aggregate", let):
        // no field can be reached from them. Checked like an expression of the model's documents,
        // so what the model refuses in any expression (server-side JavaScript on a model with
        // encrypted fields, a path of an encrypted field) is refused here too.
        const constants = new DerivedScope(scope.name, scope.shape.target, new Map());
        for (const [variable, expression] of safeEntries(value, where)) {
          if (!VARIABLE_NAME.test(variable)) throw bad(`an object of variables named as MongoDB requires (a lowercase ASCII letter or a non-ASCII character first, then letters, digits and _), not "${variable.replace(/[^\x20-\x7e]/g, '?')}"`);
          checkExpression(constants, expression, `the let variable ${variable}`, new Set());
          if (referencesFields(expression)) throw bad('constants (field paths, $$ROOT and $$CURRENT cannot be used in let)');
          variables.add(variable);
        }
        break;
      }
      case 'session':
        // Another client's session (or an impostor object) would run the command elsewhere or fail inside the driver.
        if (!(value instanceof ClientSession) || (client !== undefined && (value as unknown as { client?: unknown }).client !== client)) throw bad('a session started from this Strongbox client (client.startSession())');
        break;
      case 'typed': case 'arrayFilters':
        break;
    }
  }
  return variables;
}

/** A user variable's name (MongoDB manual, "Variables in Aggregation Expressions"). */
const VARIABLE_NAME = /^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/;
/** The index types a key pattern may name (MongoDB manual, "Index Types"). */
const INDEX_KINDS: ReadonlySet<string> = new Set(['hashed', 'text', '2d', '2dsphere']);

/** A path of the document, directly or through $$ROOT / $$CURRENT, which a constant cannot name. */
function referencesFields(expression: unknown): boolean {
  if (typeof expression === 'string') return expression.startsWith('$') && (!expression.startsWith('$$') || /^\$\$(?:ROOT|CURRENT)(?:\.|$)/.test(expression));
  if (Array.isArray(expression)) return expression.some(referencesFields);
  if (isPlainObject(expression)) return Object.values(expression).some(referencesFields);
  return false;
}
