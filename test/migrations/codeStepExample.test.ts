/* examples/code-step runs start to finish against the test server. */
import test from 'ava';
import { run } from '../../examples/code-step/run';
import { testServer } from '../harness/server';

test('examples/code-step: dry run describes the code step, up splits every encrypted name, status applied', async (t) => {
  const server = await testServer();
  const output: string[] = [];
  await run({ uri: server.uri, tls: server.tls as never }, (line) => output.push(line));
  const text = output.join('\n');
  t.log(text);
  t.regex(text, /run code step "split full name" \[widening\]/);
  t.regex(text, /calls the step's up function .* it is not called in a dry run/);
  t.regex(text, /200 customer\(s\) visited/);
  t.regex(text, /First customer now: givenName Given0, familyName van Family0/);
  t.regex(text, /Stored givenName is ciphertext: BinData subtype 6/);
  t.regex(text, /Customers split: 200 of 200/);
  t.regex(text, /20250601T000000_split_customer_name applied/);
});
