/**
 * The demo's step list. On a terminal each running step has a spinner that turns into ✓ or ✗;
 * elsewhere (CI, a pipe) every start and end is one plain line, so a log reads top to bottom.
 */
export class Progress {
  private readonly tty: boolean;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private current: { title: string; started: number } | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = Boolean(out.isTTY) && process.env.CI === undefined;
  }

  /** Runs `work` as one step; its returned text (if any) is printed when it ends. */
  async step<T>(title: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    this.start(title);
    try {
      const result = await work();
      this.end(true, describe?.(result));
      return result;
    } catch (err) {
      this.end(false, err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  /** A line under the current step (details a person should read). */
  note(text: string): void {
    this.clearLine();
    this.out.write(`    ${text}\n`);
  }

  private start(title: string): void {
    this.current = { title, started: Date.now() };
    if (!this.tty) {
      this.out.write(`▶ ${title}\n`);
      return;
    }
    this.render();
    this.timer = setInterval(() => this.render(), 100);
  }

  private end(ok: boolean, detail?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const step = this.current;
    if (!step) return;
    const seconds = ((Date.now() - step.started) / 1000).toFixed(1);
    this.clearLine();
    this.out.write(`${ok ? '✓' : '✗'} ${step.title} (${seconds}s)\n`);
    if (detail) for (const line of detail.split('\n')) this.out.write(`    ${line}\n`);
    this.current = undefined;
  }

  private render(): void {
    if (!this.current) return;
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    const seconds = ((Date.now() - this.current.started) / 1000).toFixed(0);
    this.clearLine();
    this.out.write(`${frames[this.frame++ % frames.length]} ${this.current.title} ${seconds}s`);
  }

  private clearLine(): void {
    if (this.tty && this.current) this.out.write('\r\x1b[2K');
  }
}
