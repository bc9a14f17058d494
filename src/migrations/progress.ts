/** Progress of one long step (a backfill): documents done out of an estimated total. */
export interface Progress {
  advance(documents: number): void;
  finish(): void;
}

/** Makes a Progress for a step; `done` is what an earlier, interrupted run already did. */
export type ProgressFactory = (label: string, total: number, done?: number) => Progress;

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Between plain lines when the stream is not a terminal (CI logs). Default 5 s. */
  lineIntervalMs?: number;
  /** Between redraws of the bar on a terminal. Default 100 ms. */
  redrawMs?: number;
  now?: () => number;
}

/**
 * On a terminal: one bar redrawn in place, with count, rate and ETA. Elsewhere (CI, files):
 * a plain line every few seconds and one at the end, so logs stay readable.
 */
export function streamProgress(stream: ProgressStream, options: ProgressOptions = {}): ProgressFactory {
  const now = options.now ?? Date.now;
  return (label, total, done = 0) => {
    const started = now();
    let processed = done;
    let lastOutput = started;
    const line = () => {
      const elapsed = Math.max(1, now() - started) / 1000;
      const rate = (processed - done) / elapsed;
      const remaining = Math.max(0, total - processed);
      const eta = rate > 0 ? formatDuration(remaining / rate) : '?';
      const percent = total > 0 ? Math.min(100, Math.floor((processed / total) * 100)) : 100;
      return { text: `${formatCount(processed)}/${formatCount(total)} ${percent}% ${formatCount(Math.round(rate))} docs/s ETA ${eta}`, percent };
    };
    const draw = () => {
      const { text, percent } = line();
      const width = 24;
      const filled = Math.round((percent / 100) * width);
      stream.write(`\r\x1b[K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
    };
    return {
      advance(documents) {
        processed += documents;
        const t = now();
        if (stream.isTTY) {
          if (t - lastOutput >= (options.redrawMs ?? 100)) { lastOutput = t; draw(); }
        } else if (t - lastOutput >= (options.lineIntervalMs ?? 5000)) {
          lastOutput = t;
          stream.write(`${label}: ${line().text}\n`);
        }
      },
      finish() {
        if (stream.isTTY) { draw(); stream.write('\n'); } else stream.write(`${label}: ${line().text.replace(/ ETA .*$/, '')}, done in ${formatDuration((now() - started) / 1000)}\n`);
      },
    };
  };
}

/** For library callers that want no output. */
export const silentProgress: ProgressFactory = () => ({ advance() {}, finish() {} });

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
