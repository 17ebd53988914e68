/** A one-line progress bar on stderr, drawn only on a TTY (never when piped). */

export interface Progress {
  tick(label: string): void;
  done(): void;
}

export function progressBar(total: number, enabled = process.stderr.isTTY === true): Progress {
  let count = 0;
  const width = 30;
  return {
    tick(label) {
      count++;
      if (!enabled || total === 0) return;
      const filled = Math.round((count / total) * width);
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${count}/${total} ${label}`;
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
    },
    done() {
      if (enabled && total > 0) process.stderr.write('\r\x1b[K');
    },
  };
}
