/**
 * Progress on stderr: a redrawn bar on a terminal, one plain line per step otherwise (CI logs,
 * Kubernetes Pods). stdout stays free for the final JSON summary.
 */
export interface Progress {
  step(message: string): void;
  /** Fraction in [0, 1] of the current long step (tuning). */
  update(fraction: number, message: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, enabled = true): Progress {
  if (!enabled) return { step() {}, update() {}, done() {} };
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  if (!stream.isTTY) {
    return {
      step: (message) => stream.write(`[train ${elapsed()}] ${message}\n`),
      update: (fraction, message) =>
        stream.write(`[train ${elapsed()}] ${(fraction * 100).toFixed(0)}% ${message}\n`),
      done() {},
    };
  }
  let barShown = false;
  const clear = () => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    step(message) {
      clear();
      stream.write(`  ${elapsed().padStart(7)}  ${message}\n`);
    },
    update(fraction, message) {
      const width = 30;
      const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
      clear();
      stream.write(
        `  [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`,
      );
      barShown = true;
    },
    done: clear,
  };
}
