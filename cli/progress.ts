/** Progress on stderr: a one-line bar on a TTY; stdout stays for the result. */

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
      redraw(`${bar(count, total, width)} ${count}/${total} ${label}`);
    },
    done() {
      if (enabled && total > 0) process.stderr.write('\r\x1b[K');
    },
  };
}

/** `[#####-----]`: `done` of `total`, `width` characters wide (full past the total). */
export function bar(done: number, total: number, width = 30): string {
  const filled = total <= 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** Replaces the TTY's current line with `line`, cut to the terminal width. */
function redraw(line: string): void {
  process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
}

/**
 * A running audit's progress (`scannedItems` of `estimatedItems`): a bar redrawn in
 * place on a TTY, else one line per update (a CI log shows it is alive), or nothing
 * when `enabled` is false (JSON or quiet output: scripts read only stdout).
 */
export function auditProgress(
  enabled: boolean,
  tty = process.stderr.isTTY === true,
): { update(auditId: string, scanned: number, estimated: number): void; done(): void } {
  let drawn = false;
  return {
    update(auditId, scanned, estimated) {
      if (!enabled) return;
      const percent = estimated > 0 ? Math.min(100, Math.floor((scanned / estimated) * 100)) : 0;
      const text = `audit ${auditId}: scanned ${scanned} of ~${estimated} items (${percent} %)`;
      if (!tty) {
        process.stderr.write(`${text}\n`);
        return;
      }
      redraw(`${bar(scanned, estimated)} ${text}`);
      drawn = true;
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}
