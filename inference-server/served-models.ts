import type { Logger } from '../core/log.js';
import type { ServerMetrics } from './metrics.js';
import { type LoadContext, type LoadedModel, loadModel, type ModelSource } from './model.js';
import { type Limits, prepareServing, type Serving } from './serving.js';

// Requests that already hold a replaced model finish with it; it is released this much later.
const RELEASE_DELAY_MS = 60_000;

/**
 * The models being served, replaced as a whole: a request takes `current()` once (a hook puts
 * it on the request), so a switch never mixes two models within one request. Switches run one
 * at a time, so two admin calls cannot interleave their swaps.
 */
export class ServedModels {
  private serving: Serving;
  private switching: Promise<unknown> = Promise.resolve();

  constructor(
    champion: LoadedModel,
    private readonly options: {
      limits: Limits;
      loadContext: LoadContext;
      metrics: ServerMetrics;
      log: Logger;
    },
  ) {
    this.serving = prepareServing(champion, options.limits);
    this.publish();
  }

  current(): Serving {
    return this.serving;
  }

  /** Loads, verifies and warms `source`, then serves it; the old model serves until then. */
  switchChampion(source: ModelSource): Promise<LoadedModel> {
    const run = this.switching.then(async () => {
      const next = prepareServing(await loadModel(source, this.options.loadContext), this.options.limits);
      const previous = this.serving;
      this.serving = next;
      this.publish();
      this.options.log.info({ from: label(previous.model), to: label(next.model) }, 'switched model');
      setTimeout(() => void previous.model.release().catch(() => {}), RELEASE_DELAY_MS).unref();
      return next.model;
    });
    this.switching = run.catch(() => {});
    return run;
  }

  async release(): Promise<void> {
    await this.serving.model.release().catch(() => {});
  }

  /** mlcycle_model_info says what serves now. */
  private publish(): void {
    const { metrics } = this.options;
    const model = this.serving.model;
    metrics.modelInfo.reset();
    metrics.modelInfo.set(
      {
        model_name: model.name,
        model_version: model.version,
        task: model.task,
        model_digest: model.digests['model.onnx'] ?? '',
        schema_digest: model.schema.digest,
      },
      1,
    );
  }
}

function label(model: LoadedModel): string {
  return `${model.name}/${model.version}`;
}
