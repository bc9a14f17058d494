/**
 * Renders the query policy table (src/repository/policy/table.ts) as the markdown section of
 * docs/queries.md between the policy-table markers. The docs test compares the two; run
 * `node dist/test/docs/policyTable.js --write` after changing the table to regenerate the section.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CHANGE_STREAM_STAGES, COLLATION_SETTINGS, EXPRESSION_OPERATORS, FILTER_OPERATORS, FILTER_TOP_LEVEL, IMPLICIT_EQUALITY, MOVING_ACCUMULATORS, OPTIONS,
  PIPELINE_STAGES, SERVER_JAVASCRIPT, SYSTEM_VARIABLES, UPDATE_OPERATORS, type PolicyRow, type Treatment,
} from '../../src/repository/policy/table';

export const DOC = resolve(__dirname, '..', '..', '..', 'docs', 'queries.md');
export const START = '<!-- policy-table:start (generated from src/repository/policy/table.ts; do not edit by hand) -->';
export const END = '<!-- policy-table:end -->';

const WORDS: Record<Treatment, string> = {
  value: '✓', values: '✓', flag: '✓', condition: '✓',
  encrypt: '✓ encrypted', encryptEach: '✓ each encrypted',
  document: '✓ whole document, encrypted inside', documents: '✓ whole documents, encrypted inside',
  elementFilter: '✓ condition on the elements', refuse: '✗',
};

function rows(table: Readonly<Record<string, PolicyRow>>, withKey: boolean): string[] {
  const header = withKey ? '| operator | plain | Deterministic | Random | holds encrypted fields | names a document\'s key | why refused |' : '| operator | plain | Deterministic | Random | holds encrypted fields | why refused |';
  const rule = withKey ? '|---|---|---|---|---|---|---|' : '|---|---|---|---|---|---|';
  return [header, rule, ...Object.entries(table).map(([op, r]) => {
    const cells = [r.plain, r.Deterministic, r.Random, r.container, ...(withKey ? [r.keyField] : [])].map((t) => WORDS[t]);
    const refused = [r.plain, r.Deterministic, r.Random, r.container, ...(withKey ? [r.keyField] : [])].includes('refuse');
    return `| ${op.startsWith('$') ? `\`${op}\`` : op} | ${cells.join(' | ')} | ${refused ? r.reason || 'see the key-field rule below' : ''} |`;
  })];
}

const list = (items: Iterable<string>) => [...items].map((i) => `\`${i}\``).join(' ');

export function renderPolicy(): string {
  const stages = Object.entries(PIPELINE_STAGES);
  return [
    START,
    '',
    '### Filter conditions `{ field: { <operator>: operand } }`',
    '',
    ...rows({ 'implicit equality `{ f: v }`': IMPLICIT_EQUALITY, ...FILTER_OPERATORS }, false),
    '',
    `Top level of a filter: ${Object.entries(FILTER_TOP_LEVEL).map(([op, rule]) => `\`${op}\` (${rule === 'refuse' ? 'refused' : rule === 'expression' ? 'models without encrypted fields only' : rule})`).join(', ')}.`,
    '',
    '### Update operators `{ <operator>: { path: operand } }`',
    '',
    ...rows(UPDATE_OPERATORS, true),
    '',
    '### Aggregation stages',
    '',
    `Followed stage by stage (the shape of the documents is tracked): ${list(stages.filter(([, p]) => p === 'tracked').map(([s]) => s))}.`,
    '',
    `Refused: ${list(stages.filter(([, p]) => p === 'refuse').map(([s]) => s))}. Any other stage is refused as unknown.`,
    '',
    `In a change-stream pipeline (\`watch\`), only: ${list(CHANGE_STREAM_STAGES)}, analyzed against the shape of a change event.`,
    '',
    `Accumulators that move a stored value (ciphertext stays ciphertext): ${list(Object.keys(MOVING_ACCUMULATORS))}.`,
    '',
    `Expression operators (${EXPRESSION_OPERATORS.size}; no path that may hold ciphertext may appear inside any of them): ${list(EXPRESSION_OPERATORS)}.`,
    '',
    `Server-side JavaScript, refused on models with encrypted fields: ${list(SERVER_JAVASCRIPT)}. System variables: ${list([...SYSTEM_VARIABLES].map((v) => `$$${v}`))} (\`$$ROOT\` and \`$$CURRENT\` only while they hold no ciphertext).`,
    '',
    '### Options',
    '',
    '| entry point | options accepted |',
    '|---|---|',
    ...Object.entries(OPTIONS).map(([entry, options]) => `| ${entry} | ${Object.entries(options).map(([name, kind]) => `\`${name}\` (${kind})`).join(', ')} |`),
    '',
    `Collation settings: ${Object.entries(COLLATION_SETTINGS).map(([name, rule]) => `\`${name}\` (${rule.takes})`).join(', ')}.`,
    '',
    END,
  ].join('\n');
}

export function currentSection(text: string): string | undefined {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  return start < 0 || end < 0 ? undefined : text.slice(start, end + END.length);
}

if (require.main === module && process.argv.includes('--write')) {
  const text = readFileSync(DOC, 'utf8');
  const section = currentSection(text);
  if (!section) throw new Error(`docs/queries.md has no ${START} … ${END} section`);
  writeFileSync(DOC, text.replace(section, () => renderPolicy()));
  console.log('docs/queries.md: policy table regenerated');
}
