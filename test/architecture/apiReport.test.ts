/*
 * The public surface of the package is what api/*.api.md says: a change to an exported
 * declaration fails here until the report is updated (`npm run api:update`), so it is seen in review.
 */
import test from 'ava';
import { actualReportPath, entryPoints, exportedNames, reportPath, runApiExtractor, undocumentedExports } from './apiReport';

for (const { entry, report } of entryPoints) {
  test(`the API report of src/${entry}.ts is current`, (t) => {
    const result = runApiExtractor(entry, report, false);
    t.true(result.succeeded || result.apiReportChanged, `API Extractor failed on dist/src/${entry}.d.ts (${result.errorCount} errors): compile first (tsc -p .).`);
    t.false(result.apiReportChanged,
      `The public API of src/${entry}.ts changed. Compare ${reportPath(report)} with ${actualReportPath(report)}; if the change is intended, run \`npm run api:update\` and commit the report.`);
    const names = exportedNames(report);
    t.true(names.length > 0, 'no exported names found in the report');
    t.log(`src/${entry}.ts exports ${names.length} names`);
  });

  test(`every export of src/${entry}.ts has a doc comment`, (t) => {
    t.deepEqual(undocumentedExports(report), [],
      `Exports of src/${entry}.ts without a doc comment (see ae-undocumented in ${reportPath(report)}): document each one.`);
  });
}
