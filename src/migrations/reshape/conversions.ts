import { Decimal128, Double, Int32, Long } from 'mongodb';
import { MigrationError } from '../../errors';

/** The declared types a conversion can bring values to. */
export type ConversionTarget = 'string' | 'number' | 'date' | 'decimal' | 'long' | 'array';

export const CONVERSION_TARGETS: readonly ConversionTarget[] = ['string', 'number', 'date', 'decimal', 'long', 'array'];

/**
 * The outcome for one stored value: converted, already of the target type (a re-run after a
 * crash, or data written by the new code), or not convertible — which is left as it is and
 * counted, never guessed at.
 */
export type Converted = { kind: 'converted'; value: unknown } | { kind: 'already' } | { kind: 'unconvertible'; reason: string };

const NUMBER_TEXT = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;
const INTEGER_TEXT = /^\s*[-+]?\d+\s*$/;

/** Values are read with promoteValues off: numbers arrive as Int32/Double/Long/Decimal128 objects. */
function numeric(value: unknown): { kind: 'int' | 'double' | 'long' | 'decimal'; text: string } | undefined {
  if (value instanceof Int32) return { kind: 'int', text: String(value.value) };
  if (value instanceof Double) return { kind: 'double', text: String(value.value) };
  if (value instanceof Long) return { kind: 'long', text: value.toString() };
  if (value instanceof Decimal128) return { kind: 'decimal', text: value.toString() };
  if (typeof value === 'number') return { kind: Number.isInteger(value) ? 'int' : 'double', text: String(value) };
  return undefined;
}

function asNumber(text: string): Int32 | Double {
  const n = Number(text);
  return Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 ? new Int32(n) : new Double(n);
}

export function convertValue(value: unknown, to: ConversionTarget): Converted {
  // Missing and null stay as they are: there is nothing to convert.
  if (value === undefined || value === null) return { kind: 'already' };
  const number = numeric(value);
  switch (to) {
    case 'string':
      if (typeof value === 'string') return { kind: 'already' };
      if (number) return { kind: 'converted', value: number.text };
      // The way back from a date conversion: ISO 8601 in UTC.
      if (value instanceof Date) return { kind: 'converted', value: value.toISOString() };
      return { kind: 'unconvertible', reason: 'not a number or a date' };
    case 'number':
      if (number && (number.kind === 'int' || number.kind === 'double')) return { kind: 'already' };
      if (typeof value === 'string' && NUMBER_TEXT.test(value) && Number.isFinite(Number(value))) return { kind: 'converted', value: asNumber(value) };
      // The way back from long or decimal: only when a double holds the value exactly.
      if (number && String(Number(number.text)) === number.text.replace(/^\+/, '')) return { kind: 'converted', value: asNumber(number.text) };
      if (number) return { kind: 'unconvertible', reason: 'a number a double cannot hold exactly' };
      return { kind: 'unconvertible', reason: typeof value === 'string' ? 'text that is not a number' : 'not a string' };
    case 'date': {
      if (value instanceof Date) return { kind: 'already' };
      if (typeof value !== 'string') return { kind: 'unconvertible', reason: 'not a string' };
      // ISO 8601 only (ECMAScript's Date Time String Format): other spellings are ambiguous (is 03/04 March or April?).
      if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) return { kind: 'unconvertible', reason: 'not an ISO 8601 date' };
      const date = new Date(value.trim());
      return Number.isNaN(date.getTime()) ? { kind: 'unconvertible', reason: 'not a valid date' } : { kind: 'converted', value: date };
    }
    case 'decimal':
      if (number?.kind === 'decimal') return { kind: 'already' };
      // From the shortest decimal text of the number, so 0.1 becomes 0.1 and not 0.1000000000000000055511151231257827.
      if (number) return { kind: 'converted', value: Decimal128.fromString(number.text) };
      return { kind: 'unconvertible', reason: 'not a number' };
    case 'long':
      if (number?.kind === 'long') return { kind: 'already' };
      if (number && INTEGER_TEXT.test(number.text)) return { kind: 'converted', value: Long.fromString(number.text.trim()) };
      return { kind: 'unconvertible', reason: number ? 'a number with a fraction' : 'not a number' };
    case 'array':
      if (Array.isArray(value)) return { kind: 'already' };
      return { kind: 'converted', value: [value] };
  }
}

export function assertConversionTarget(to: unknown, where: string): asserts to is ConversionTarget {
  if (!CONVERSION_TARGETS.includes(to as ConversionTarget)) {
    throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: ${JSON.stringify(to)} is not a conversion target.`, { fix: `write to: one of ${CONVERSION_TARGETS.map((t) => `'${t}'`).join(', ')}.` });
  }
}
