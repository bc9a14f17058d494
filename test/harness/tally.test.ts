import test from 'ava';
import { ResultTally } from './tally';

const output = Buffer.from('  ✔ cli › one\n  ✘ [fail]: cli › two\n  - [skip] cli › three\nnoise ✔ not at the start\n  ✔ [expected fail] cli › open bug\n  ✔ cli › four (12ms)', 'utf8');

test('the tally is exact whatever the chunking, including a mark split between chunks and an unterminated last line', (t) => {
  for (let size = 1; size <= output.length; size++) {
    const tally = new ResultTally();
    for (let at = 0; at < output.length; at += size) tally.write(output.subarray(at, at + size));
    t.deepEqual(tally.end(), { passed: 2, failed: 1, skipped: 1, knownFailures: 1 }, `chunks of ${size} bytes`);
  }
});

test('a chunk boundary inside the three bytes of ✔ does not lose the line', (t) => {
  const mark = output.indexOf(Buffer.from('✔'));
  const tally = new ResultTally();
  tally.write(output.subarray(0, mark + 1));
  tally.write(output.subarray(mark + 1));
  t.is(tally.end().passed, 2);
});
