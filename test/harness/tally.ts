import { StringDecoder } from 'node:string_decoder';

/**
 * Counts ava's result lines in its output as it streams. Ava's closing counts are incomplete when
 * something fails, so the lines themselves are counted. Chunks can split a line, and a multi-byte
 * mark (✔ is three bytes in UTF-8) across two chunks, so bytes go through a StringDecoder and
 * only complete lines are classified; end() flushes the last, unterminated line.
 */
export class ResultTally {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private counts = { passed: 0, failed: 0, skipped: 0, knownFailures: 0 };

  write(chunk: Buffer): void {
    const lines = (this.pending + this.decoder.write(chunk)).split('\n');
    this.pending = lines.pop()!;
    for (const line of lines) this.classify(line);
  }

  end(): { passed: number; failed: number; skipped: number; knownFailures: number } {
    this.classify(this.pending + this.decoder.end());
    this.pending = '';
    return { ...this.counts };
  }

  private classify(line: string): void {
    // A test.failing that failed (an open bug kept as a test until it is fixed) is not a pass.
    if (/^\s*✔ \[expected fail\]/.test(line)) this.counts.knownFailures++;
    else if (/^\s*✔/.test(line)) this.counts.passed++;
    else if (/^\s*✘/.test(line)) this.counts.failed++;
    else if (/^\s*- \[skip\]/.test(line)) this.counts.skipped++;
  }
}
