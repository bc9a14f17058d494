import test from 'ava';
import { assertDriverCompatible, compatibilityProblems, installedVersions } from '../../src/client/driverCompatibility';
import { SetupError } from '../../src/errors';

test('the installed driver, binding and BSON library are read from disk and pass the check', (t) => {
  const installed = installedVersions();
  t.regex(installed.mongodb ?? '', /^6\.\d+\.\d+/);
  t.regex(installed['mongodb-client-encryption'] ?? '', /^6\.\d+\.\d+/);
  t.regex(installed.bson ?? '', /^6\.\d+\.\d+/);
  t.deepEqual(compatibilityProblems(installed), []);
  t.notThrows(() => assertDriverCompatible());
});

test('a newer driver major, an older minor and a missing binding are one error naming each version and the fix', (t) => {
  const err = t.throws(() => assertDriverCompatible({ mongodb: '7.0.0', 'mongodb-client-encryption': undefined, bson: '7.1.0' }), { instanceOf: SetupError });
  t.is(err?.code, 'SETUP_DRIVER_VERSION');
  t.regex(err!.message, /mongodb 7\.0\.0 is installed, Strongbox needs >=6\.22\.0 <7/);
  t.regex(err!.message, /mongodb-client-encryption is not installed/);
  t.regex(err!.message, /bson 7\.1\.0 is installed/);
  t.regex(err!.message, /Fix: install the supported versions .*npm install mongodb@6\.22\.0 mongodb-client-encryption@6\.0\.0.*npm ls mongodb bson/);
  t.deepEqual(compatibilityProblems({ mongodb: '6.21.9', 'mongodb-client-encryption': '6.5.0', bson: '6.10.0' }), ['mongodb 6.21.9 is installed, Strongbox needs >=6.22.0 <7']);
  t.deepEqual(compatibilityProblems({ mongodb: '6.22.1', 'mongodb-client-encryption': '6.0.0', bson: '6.10.4' }), []);
});
