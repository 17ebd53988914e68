/**
 * The soak's signs of life: a line every `everyMs` while it runs, and one as each
 * phase begins, so a run killed by a time-out still shows how far it got. Each line
 * starts with the time since the soak began (`[soak 4:30]`).
 */
export class SoakProgress {
  private timer: NodeJS.Timeout | undefined;
  /** The phase under way (each periodic line names it). */
  private current = 'start';

  constructor(
    private readonly startedAtMs: number = Date.now(),
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  /** Prints `line()` every `everyMs` until stop() (a line still being made is skipped). */
  every(everyMs: number, line: () => string | Promise<string>): void {
    this.stop();
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      Promise.resolve()
        .then(line)
        .then(
          (text) => this.say(`${this.current}: ${text}`),
          (error: unknown) => this.say(`(no progress line: ${(error as Error).message})`),
        )
        .finally(() => {
          busy = false;
        });
    }, everyMs);
    this.timer.unref(); // never what keeps the process alive
  }

  /** A phase begins; `detail` goes on its line only. */
  phase(name: string, detail?: string): void {
    this.current = name;
    this.say(`phase: ${name}${detail === undefined ? '' : ` (${detail})`}`);
  }

  say(text: string): void {
    this.print(`[soak ${clock(Date.now() - this.startedAtMs)}] ${text}`);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** m:ss of a duration in ms. */
function clock(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
