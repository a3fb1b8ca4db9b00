import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Histogram entry: gradient sum, hessian sum, row count. */
export const STRIDE = 3;

/**
 * Everything a histogram pass reads. The arrays live in SharedArrayBuffers so a worker thread
 * can read them without copies.
 */
export interface HistogramInputs {
  /** Bin codes, row-major (row * numFeatures + feature). */
  rowCodes: Uint8Array;
  numFeatures: number;
  /** Start of each feature's bins in a histogram, in array elements (bin offset × STRIDE). */
  offsets: Int32Array;
  grad: Float64Array;
  hess: Float64Array;
  /** Row indices; a pass covers indices[start, end). */
  indices: Uint32Array;
  histSize: number;
}

// Below this many rows a pass is not split (the hand-off would cost more than it saves).
const SPLIT_MIN_ROWS = 16_384;
// A worker that does not answer within this time is treated as dead.
const WORKER_TIMEOUT_MS = 120_000;

export function shared<T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(
  kind: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new kind(new SharedArrayBuffer(Math.max(1, length) * kind.BYTES_PER_ELEMENT));
}

/** Adds rows indices[start, end) to `hist`: row-wise, each row's gradient read once. */
function accumulate(hist: Float64Array, x: HistogramInputs, start: number, end: number): void {
  const { rowCodes, numFeatures, offsets, grad, hess, indices } = x;
  for (let k = start; k < end; k++) {
    const r = indices[k]!;
    const g = grad[r]!;
    const h = hess[r]!;
    const base = r * numFeatures;
    for (let f = 0; f < numFeatures; f++) {
      const b = offsets[f]! + rowCodes[base + f]! * STRIDE;
      hist[b] = hist[b]! + g;
      hist[b + 1] = hist[b + 1]! + h;
      hist[b + 2] = hist[b + 2]! + 1;
    }
  }
}

// The worker's loop, as source so it runs the same from TypeScript tests and the built CLI.
// Control words: [0] request sequence (-1 = stop), [1] start, [2] end, [3] done sequence.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { ctrl, out, rowCodes, numFeatures, offsets, grad, hess, indices } = workerData;
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  const seq = Atomics.load(ctrl, 0);
  if (seq < 0) break;
  if (seq === seen) continue;
  seen = seq;
  const start = ctrl[1];
  const end = ctrl[2];
  out.fill(0);
  for (let k = start; k < end; k++) {
    const r = indices[k];
    const g = grad[r];
    const h = hess[r];
    const base = r * numFeatures;
    for (let f = 0; f < numFeatures; f++) {
      const b = offsets[f] + rowCodes[base + f] * ${STRIDE};
      out[b] += g;
      out[b + 1] += h;
      out[b + 2] += 1;
    }
  }
  Atomics.store(ctrl, 3, seq);
  Atomics.notify(ctrl, 3);
}
`;

export function defaultThreads(): number {
  const fromEnv = Number(process.env.MLCYCLE_TRAIN_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return Math.min(fromEnv, 2);
  return Math.min(2, availableParallelism());
}

/**
 * Builds histograms, the hot loop of training, on up to two threads. A large pass is always
 * cut in the same two halves and the second half's sums added to the first's, whether a worker
 * or this thread computes it: the arithmetic, and so the model, does not depend on the number
 * of threads.
 */
export class HistogramBuilder {
  private readonly second: Float64Array;
  private readonly ctrl: Int32Array;
  private worker: Worker | undefined;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly inputs: HistogramInputs,
    private readonly threads = defaultThreads(),
  ) {
    this.second = shared(Float64Array, inputs.histSize);
    this.ctrl = shared(Int32Array, 4);
  }

  /** Started on the first pass big enough to split, so small trainings never start a thread. */
  private startWorker(): Worker | undefined {
    if (this.worker || this.threads < 2 || this.closed) return this.worker;
    const inputs = this.inputs;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        ctrl: this.ctrl,
        out: this.second,
        rowCodes: inputs.rowCodes,
        numFeatures: inputs.numFeatures,
        offsets: inputs.offsets,
        grad: inputs.grad,
        hess: inputs.hess,
        indices: inputs.indices,
      },
    });
    // An idle worker must never keep the process alive.
    this.worker.unref();
    return this.worker;
  }

  /** `hist` (zeroed by the caller) receives the sums of rows indices[start, end). */
  build(hist: Float64Array, start: number, end: number): void {
    if (end - start < SPLIT_MIN_ROWS) {
      accumulate(hist, this.inputs, start, end);
      return;
    }
    const mid = (start + end) >>> 1;
    if (this.startWorker()) {
      const seq = ++this.seq;
      this.ctrl[1] = mid;
      this.ctrl[2] = end;
      Atomics.store(this.ctrl, 0, seq);
      Atomics.notify(this.ctrl, 0);
      accumulate(hist, this.inputs, start, mid);
      const deadline = Date.now() + WORKER_TIMEOUT_MS;
      for (let done = Atomics.load(this.ctrl, 3); done !== seq; done = Atomics.load(this.ctrl, 3)) {
        if (Date.now() > deadline) throw new Error('the histogram worker thread stopped answering');
        Atomics.wait(this.ctrl, 3, done, 1000);
      }
    } else {
      accumulate(hist, this.inputs, start, mid);
      this.second.fill(0);
      accumulate(this.second, this.inputs, mid, end);
    }
    const second = this.second;
    for (let i = 0; i < hist.length; i++) hist[i] = hist[i]! + second[i]!;
  }

  /** Stops the worker thread. */
  close(): void {
    this.closed = true;
    if (!this.worker) return;
    Atomics.store(this.ctrl, 0, -1);
    Atomics.notify(this.ctrl, 0);
    void this.worker.terminate();
  }
}
