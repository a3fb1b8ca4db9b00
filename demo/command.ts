import { z } from 'zod';
import { defineCommand } from '../core/command.js';
import { fields, setting } from '../core/config.js';

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'play the whole lifecycle on this machine, on embedded defaults',
  description: [
    'Plays a model’s whole life on this machine, with the real components and the real flights data:',
    'train and register v1, serve it over HTTP and log every prediction and its delayed label,',
    'monitor drift, alert, retrain v2 on the logged, labelled production window when drift is',
    'sustained, run v2 in shadow beside v1, promote it when a drift run decides it beats v1 on the',
    'same labelled requests, then roll back to v1 when delayed labels show v2’s quality degraded.',
    'No cluster, no server:',
    'PostgreSQL is the embedded PGlite and the object store a directory, both under --out.',
    '',
    'A second run into the same --out wipes the previous demo there and starts clean; a non-empty',
    'directory the demo did not make is refused.',
  ].join('\n'),
  settings: {
    out: setting({
      flag: 'out',
      env: 'MLCYCLE_DEMO_OUT',
      description: 'output directory (wiped first if a previous demo made it)',
      schema: z.string().min(1).default('mlcycle-demo'),
    }),
    trainRows: setting({
      flag: 'train-rows',
      env: 'MLCYCLE_DEMO_TRAIN_ROWS',
      description: 'rows per training run, sampled evenly over its months',
      schema: fields.positiveInt.default(150_000),
    }),
    trials: setting({
      flag: 'trials',
      env: 'MLCYCLE_DEMO_TRIALS',
      description: 'hyperparameter trials per training run',
      schema: fields.positiveInt.default(4),
    }),
    windowRows: setting({
      flag: 'window-rows',
      env: 'MLCYCLE_DEMO_WINDOW_ROWS',
      description: 'requests replayed per monitoring window',
      schema: fields.positiveInt.default(20_000),
    }),
    seed: setting({
      flag: 'seed',
      env: 'MLCYCLE_DEMO_SEED',
      description: 'seed for training and traffic sampling',
      schema: fields.nonNegativeInt.default(42),
    }),
  },
  run: async (values) => {
    const { runDemo } = await import('./lifecycle.js');
    const started = performance.now();
    await runDemo(values);
    process.stdout.write(`\ndemo finished in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    return 0;
  },
});
