import test from 'ava';
import { streamProgress } from '../../src/migrations/progress';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (text: string) => writes.push(text) }, writes };
}

test('on a terminal: one bar redrawn in place with count, percentage, rate and ETA', (t) => {
  let now = 0;
  const { stream, writes } = recorder(true);
  const progress = streamProgress(stream, { now: () => now })('hr.employees.ssn', 20_000);
  now = 1000;
  progress.advance(5000);
  t.is(writes.at(-1), '\r\x1b[Khr.employees.ssn [######..................] 5,000/20,000 25% 5,000 docs/s ETA 3.0s');
  now = 1050;
  progress.advance(100);
  t.is(writes.length, 1, 'no redraw within 100 ms');
  now = 4000;
  progress.advance(14_900);
  progress.finish();
  t.regex(writes.at(-2)!, /20,000\/20,000 100% 5,000 docs\/s ETA 0\.0s$/);
  t.is(writes.at(-1), '\n');
});

test('elsewhere (CI): plain lines every few seconds and a final one; resumed work is not counted in the rate', (t) => {
  let now = 0;
  const { stream, writes } = recorder(false);
  const progress = streamProgress(stream, { now: () => now, lineIntervalMs: 5000 })('hr.employees.ssn', 20_000, 8000);
  now = 2000;
  progress.advance(2000);
  t.deepEqual(writes, [], 'nothing before the interval');
  now = 5000;
  progress.advance(3000);
  t.deepEqual(writes, ['hr.employees.ssn: 13,000/20,000 65% 1,000 docs/s ETA 7.0s\n']);
  now = 12_000;
  progress.advance(7000);
  progress.finish();
  t.is(writes.at(-1), 'hr.employees.ssn: 20,000/20,000 100% 1,000 docs/s, done in 12s\n');
});
