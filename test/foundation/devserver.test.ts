import test from 'ava';
import { SetupError } from '../../src/errors';
import { startLocalServer } from '../../src/devserver/ferretdb';

test('a server that does not answer in time is one clear error, and nothing is left running', async (t) => {
  const err = await t.throwsAsync(startLocalServer({ startTimeoutMs: 1 }), { instanceOf: SetupError });
  t.is(err!.code, 'SETUP_SERVER_TIMEOUT');
  t.regex(err!.message, /did not answer on 127\.0\.0\.1:\d+ within 1 ms/);
  t.regex(err!.message, /Fix: look at its log/);
});
