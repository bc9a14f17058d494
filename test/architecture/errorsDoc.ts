/**
 * docs/errors.md, rendered from src/errorCatalogue.ts. The catalogue test checks the file is
 * current; `npm run docs:errors` rewrites it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CATALOGUE, WARNING_CATALOGUE, type CodeEntry } from '../../src/errorCatalogue';
import { repoRoot } from './repoRoot';

export const errorsDocPath = join(repoRoot, 'docs', 'errors.md');

const CLASS_SUMMARY: Record<keyof typeof ERROR_CATALOGUE, string> = {
  SetupError: 'The environment cannot run Strongbox: a native binding, a server binary or a tool is missing.',
  ConfigError: 'The client configuration (or a CLI argument) is invalid; raised before any network traffic.',
  TlsError: 'A TLS handshake or certificate problem, translated from the driver or Node.',
  ModelDefinitionError: 'A model class is declared in a way Strongbox (or MongoDB) cannot support; raised when models are registered.',
  EncryptedQueryError: 'A query, update or pipeline asks for something that cannot be done on encrypted data; nothing is sent.',
  InvalidInputError: 'Input that is malformed or hostile (an operator where a value belongs, a polluting key); nothing is sent.',
  KeyError: 'Master key or data key problems: missing, unreadable, wrong length, not in the key vault.',
  DecryptionError: 'A stored encrypted value could not be decrypted; it is never returned as if it were plaintext.',
  EncryptionError: 'A value could not be encrypted; nothing was written.',
  MigrationError: 'Migration generation or execution problems.',
  ConcurrencyError: 'save() or remove() of an entity whose stored document changed or vanished since it was loaded; nothing was written.',
  HookError: 'A lifecycle hook of the model threw; from a before-hook nothing was written.',
  UnsupportedByServerError: 'The server lacks a feature an operation needs.',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function table(entries: Record<string, CodeEntry>): string[] {
  return [
    '| code | meaning | fix |',
    '| --- | --- | --- |',
    ...Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)).map(([code, e]) => `| \`${code}\` | ${cell(e.meaning)} | ${cell(e.fix)} |`),
  ];
}

export function renderErrorsDoc(): string {
  const lines = [
    '# Errors',
    '',
    '<!-- Generated from src/errorCatalogue.ts by `npm run docs:errors`; edit the catalogue, not this file. -->',
    '',
    'Every failure Strongbox raises on purpose is a `StrongboxError` subclass with a stable `code`,',
    'a message naming the thing, the cause and the fix, and the fix alone in `err.fix`. Each class',
    'accepts only its own codes, so after `err instanceof KeyError` TypeScript knows `err.code` is',
    'one of the key codes below. Messages never contain plaintext of encrypted fields, master keys',
    'or passphrases.',
    '',
  ];
  for (const [name, entries] of Object.entries(ERROR_CATALOGUE) as Array<[keyof typeof ERROR_CATALOGUE, Record<string, CodeEntry>]>) {
    lines.push(`## ${name}`, '', CLASS_SUMMARY[name], '', ...table(entries), '');
  }
  lines.push('## Warnings', '', 'Returned (not thrown) by TLS validation, as `{ code, message }`.', '', ...table(WARNING_CATALOGUE), '');
  return lines.join('\n');
}

if (require.main === module) {
  writeFileSync(errorsDocPath, renderErrorsDoc());
  console.log(`wrote ${errorsDocPath}`);
}
