import type { CodeOf, StrongboxErrorCode } from './errorCatalogue';

/**
 * Every failure Strongbox raises on purpose is a StrongboxError with a stable `code`,
 * so callers can branch on it and messages can be written for people: what went wrong,
 * why, and what to do about it. Each class accepts only the codes errorCatalogue.ts lists for
 * it, so after `err instanceof KeyError` the type of `err.code` is the union of key codes.
 *
 * Messages must never contain plaintext of encrypted fields, master keys or passphrases.
 */
export class StrongboxError<Code extends StrongboxErrorCode = StrongboxErrorCode> extends Error {
  readonly code: Code;
  /** What the user can do about it; already part of `message`, kept separate for tools. */
  readonly fix?: string;

  constructor(code: Code, message: string, options: { fix?: string; cause?: unknown } = {}) {
    super(options.fix ? `${message} Fix: ${options.fix}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.fix = options.fix;
  }
}

/**
 * The same kind of error (class and code) with a message that says where it happened; the
 * original is the cause. Its message already ends with the fix, so the fix is not repeated.
 */
export function withMessage<E extends StrongboxError>(err: E, message: string): E {
  const SameClass = err.constructor as new (code: E['code'], message: string, options: { cause?: unknown }) => E;
  return new SameClass(err.code, message, { cause: err });
}

/** The environment cannot run Strongbox: a native binding, a server binary or a tool is missing. */
export class SetupError extends StrongboxError<CodeOf<'SetupError'>> {}

/** The client configuration is invalid; raised before any network traffic. */
export class ConfigError extends StrongboxError<CodeOf<'ConfigError'>> {}

/** A TLS handshake or certificate problem, translated from the driver or Node. */
export class TlsError extends StrongboxError<CodeOf<'TlsError'>> {}

/** A model class is declared in a way Strongbox (or MongoDB) cannot support. */
export class ModelDefinitionError extends StrongboxError<CodeOf<'ModelDefinitionError'>> {}

/** A query, update or pipeline asks for something that cannot be done on encrypted data. */
export class EncryptedQueryError extends StrongboxError<CodeOf<'EncryptedQueryError'>> {}

/** Input that is malformed or hostile (an operator where a value belongs, a polluting key). */
export class InvalidInputError extends StrongboxError<CodeOf<'InvalidInputError'>> {}

/** Master key or data key problems: missing, unreadable, wrong length, not in the key vault. */
export class KeyError extends StrongboxError<CodeOf<'KeyError'>> {}

/** A stored encrypted value could not be decrypted; it is never returned as if it were plaintext. */
export class DecryptionError extends StrongboxError<CodeOf<'DecryptionError'>> {}

/** Encryption of a value failed (KMS unreachable, key missing); nothing was written. */
export class EncryptionError extends StrongboxError<CodeOf<'EncryptionError'>> {}

/** Migration generation or execution problems. */
export class MigrationError extends StrongboxError<CodeOf<'MigrationError'>> {}

/** The server lacks a feature an operation needs (for example FerretDB without collMod). */
export class UnsupportedByServerError extends StrongboxError<CodeOf<'UnsupportedByServerError'>> {}

/** One failing rule of a value being written: the path and the rule, never the value. */
export interface ValidationIssue {
  /** Dotted path from the document root ('address.zip', 'contacts.0.phone'). */
  path: string;
  /** 'required', or the class-validator constraint name ('isEmail', 'min', 'matches', …). */
  rule: string;
  message: string;
}

/**
 * Values that break the model's rules (required fields, class-validator decorators); nothing was
 * written. `issues` lists every failing path and rule; messages about encrypted fields name the
 * rule only, never the value.
 */
export class ValidationError extends InvalidInputError {
  readonly issues: readonly ValidationIssue[];

  constructor(code: 'INPUT_REQUIRED_MISSING' | 'INPUT_VALIDATION_FAILED', message: string, issues: readonly ValidationIssue[], fix: string) {
    super(code, message, { fix });
    this.issues = issues;
  }
}

/** save() or remove() of an entity whose stored document changed (or vanished) since it was loaded; nothing was written. */
export class ConcurrencyError extends StrongboxError<CodeOf<'ConcurrencyError'>> {}

/** A lifecycle hook of the model threw; when it was a before-hook, nothing was written. The hook's error is `cause`. */
export class HookError extends StrongboxError<CodeOf<'HookError'>> {}
