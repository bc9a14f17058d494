import test from 'ava';
import { readFileSync } from 'node:fs';
import { currentSection, DOC, renderPolicy } from './policyTable';

test('docs/queries.md states exactly what the query policy table allows', (t) => {
  const section = currentSection(readFileSync(DOC, 'utf8'));
  t.truthy(section, 'docs/queries.md has the generated policy-table section');
  t.is(section, renderPolicy(), 'regenerate it with: npx tsc -p . && node dist/test/docs/policyTable.js --write');
});
