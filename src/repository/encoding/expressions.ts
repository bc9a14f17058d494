import { EncryptedQueryError } from '../../errors';
import { EXPRESSION_OPERATORS, SERVER_JAVASCRIPT, SYSTEM_VARIABLES } from '../policy/table';
import { assertWritableLiteral, assertWritablePattern, invalid, isPlainObject, safeEntries } from './guards';
import type { Scope } from './scope';

/**
 * Checks an aggregation expression (MongoDB manual, "Expressions") against the documents it is
 * evaluated on. The server would evaluate it on ciphertext wherever it reaches an encrypted
 * value, and a literal in it could be compared with one, so no path that may hold ciphertext may
 * appear anywhere inside an operator, directly, through `$$ROOT` / `$$CURRENT`, through
 * `$getField`, or through a variable. Variables can only be bound to expressions checked by the
 * same rule, so they never hold ciphertext. Unknown operators are refused.
 */
export function checkExpression(scope: Scope, expression: unknown, where: string, variables: ReadonlySet<string>): void {
  if (typeof expression === 'string') return checkReference(scope, expression, where, variables);
  if (Array.isArray(expression)) {
    for (const item of expression) checkExpression(scope, item, where, variables);
    return;
  }
  if (!isPlainObject(expression)) {
    // A literal: number, boolean, null, Date, BSON value, regular expression.
    assertWritablePattern(expression, where);
    return;
  }
  const entries = safeEntries(expression, where);
  const operators = entries.filter(([key]) => key.startsWith('$'));
  if (operators.length === 0) {
    // An expression object: each field is an expression.
    for (const [, value] of entries) checkExpression(scope, value, where, variables);
    return;
  }
  if (entries.length !== 1) {
    throw invalid('INPUT_EXPRESSION', `${where}: an expression object must hold exactly one operator, or only field names.`, 'write { $op: … } or { field: <expression>, … }.');
  }
  const [op, operand] = operators[0];
  checkOperator(scope, op, operand, where, variables);
}

function checkOperator(scope: Scope, op: string, operand: unknown, where: string, variables: ReadonlySet<string>): void {
  if (SERVER_JAVASCRIPT.has(op)) {
    if (!scope.mayHoldCiphertext && !scope.modelEncrypted) return;
    throw new EncryptedQueryError('QUERY_SERVER_JAVASCRIPT', `${op} is refused in aggregations on ${scope.name}: server-side JavaScript can read any value it is given, and Strongbox cannot tell which values it would reach.`, {
      fix: 'express the computation with aggregation operators on plain fields, or compute in the application after reading.',
    });
  }
  switch (op) {
    case '$literal':
      // Sent as it is: nothing in it is evaluated, but BSON must be able to write it.
      return assertWritableLiteral(operand, where);
    case '$meta':
      return;
    case '$let': {
      const spec = namedArguments(operand, op, where, ['vars', 'in']);
      const bound = new Set(variables);
      if (!isPlainObject(spec.vars)) throw invalid('INPUT_EXPRESSION', `${where}: $let needs { vars: { … }, in: … }.`, 'write { $let: { vars: { x: … }, in: … } }.');
      for (const [name, value] of safeEntries(spec.vars, where)) {
        checkExpression(scope, value, where, variables);
        bound.add(name);
      }
      return checkExpression(scope, spec.in, where, bound);
    }
    case '$map':
    case '$filter': {
      const spec = namedArguments(operand, op, where, op === '$map' ? ['input', 'as', 'in'] : ['input', 'as', 'cond', 'limit']);
      checkExpression(scope, spec.input, where, variables);
      checkExpression(scope, spec.limit, where, variables);
      const bound = new Set(variables).add(typeof spec.as === 'string' ? spec.as : 'this');
      return checkExpression(scope, op === '$map' ? spec.in : spec.cond, where, bound);
    }
    case '$reduce': {
      const spec = namedArguments(operand, op, where, ['input', 'initialValue', 'in']);
      checkExpression(scope, spec.input, where, variables);
      checkExpression(scope, spec.initialValue, where, variables);
      return checkExpression(scope, spec.in, where, new Set(variables).add('this').add('value'));
    }
    case '$getField': {
      // `{ $getField: 'f' }` reads field f of $$CURRENT by name, bypassing path syntax.
      const spec = typeof operand === 'string' ? { field: operand } : namedArguments(operand, op, where, ['field', 'input']);
      if (spec.input === undefined) {
        const named = typeof spec.field === 'string' ? spec.field : undefined;
        if (named === undefined || named.includes('.') || named.startsWith('$') ? scope.mayHoldCiphertext : scope.holdsEncrypted(named)) throw reaches(scope, named ?? '(a computed field name)', where);
      }
      checkExpression(scope, spec.input, where, variables);
      if (typeof spec.field !== 'string') checkExpression(scope, spec.field, where, variables);
      return;
    }
    default:
      if (!EXPRESSION_OPERATORS.has(op)) {
        throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not an aggregation expression operator Strongbox knows (in ${where}).`, 'use the operators of the MongoDB manual\'s aggregation reference; Strongbox refuses what it cannot check.');
      }
      if (isPlainObject(operand) && !Object.keys(operand).some((k) => k.startsWith('$'))) {
        // Named arguments ({ input, sortBy, … }); a sortBy names paths of the input's elements, which are checked as the input is.
        for (const [name, value] of safeEntries(operand, where)) if (name !== 'sortBy') checkExpression(scope, value, where, variables);
        return;
      }
      return checkExpression(scope, operand, where, variables);
  }
}

function checkReference(scope: Scope, text: string, where: string, variables: ReadonlySet<string>): void {
  if (!text.startsWith('$')) return;
  if (text.startsWith('$$')) {
    const [name, ...rest] = text.slice(2).split('.');
    const path = rest.join('.');
    if (name === 'ROOT' || name === 'CURRENT') {
      if (path ? scope.holdsEncrypted(path) : scope.mayHoldCiphertext) throw reaches(scope, path || `$$${name}`, where);
      if (path) scope.resolve(path, where);
      return;
    }
    if (SYSTEM_VARIABLES.has(name) || variables.has(name)) return;
    throw invalid('INPUT_UNKNOWN_VARIABLE', `${where} uses the variable $$${name}, which nothing defines.`, 'define it with $let, or in the `let` option, before using it.');
  }
  const path = text.slice(1);
  if (scope.holdsEncrypted(path)) throw reaches(scope, path, where);
  scope.resolve(path, where);
}

function reaches(scope: Scope, path: string, where: string): EncryptedQueryError {
  return new EncryptedQueryError('QUERY_PIPELINE_ON_ENCRYPTED', `The aggregation ${where} uses ${scope.name}.${path}, which is or may hold encrypted values: the server would evaluate it on ciphertext, and no value inside an expression is encrypted.`, {
    fix: 'compute on plain fields only, or do this step in the application after reading (results are decrypted there); a stage may still move an encrypted field as a whole ({ out: \'$field\' }).',
  });
}

function namedArguments(operand: unknown, op: string, where: string, allowed: string[]): Record<string, unknown> {
  if (!isPlainObject(operand)) throw invalid('INPUT_EXPRESSION', `${where}: ${op} takes named arguments (${allowed.join(', ')}).`, `write { ${op}: { ${allowed[0]}: … } }.`);
  for (const key of Object.keys(operand)) {
    if (!allowed.includes(key)) throw invalid('INPUT_EXPRESSION', `${where}: ${op} has no argument "${key}".`, `use ${allowed.join(', ')}.`);
  }
  return operand;
}
