import { readFileSync } from 'node:fs';
import type { Command } from '../core/command.js';
import { formatSettingsHelp, parseSettings } from '../core/config.js';
import { UserError } from '../core/errors.js';

/**
 * The subcommands, loaded on demand so `mlcycle drift` never pays for onnxruntime and
 * `--help` stays instant.
 */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  train: {
    summary: 'train, evaluate, gate and register a model version',
    load: async () => (await import('../trainer-job/command.js')).trainCommand as unknown as Command,
  },
  serve: {
    summary: 'serve a model version over HTTP (/predict, /predict_batch, /feedback)',
    load: async () => (await import('../inference-server/command.js')).serveCommand as unknown as Command,
  },
  drift: {
    summary: 'compare production data with the reference: drift, quality, report, alerts',
    load: async () => (await import('../drift-job/command.js')).driftCommand as unknown as Command,
  },
  operator: {
    summary: 'run the Kubernetes operator for ModelVersion, ModelDeployment and DriftMonitor',
    load: async () => (await import('../operator/command.js')).operatorCommand as unknown as Command,
  },
  demo: {
    summary: 'play the whole lifecycle on this machine, on embedded defaults',
    load: async () => (await import('../demo/command.js')).demoCommand as unknown as Command,
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 4;
  return [
    'mlcycle — the whole life of a tabular machine-learning model on Kubernetes',
    '',
    'Usage: mlcycle <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Flags:',
    '  --help, -h       show help (also: mlcycle <command> --help)',
    '  --version, -v    print the version',
    '',
    'Every flag can also be set by an environment variable; `mlcycle <command> --help` lists them.',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return [
    `Usage: mlcycle ${command.name} [flags]`,
    '',
    command.description ?? command.summary,
    '',
    'Flags:',
    formatSettingsHelp(command.settings),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const entry = commands[first];
  if (!entry) {
    throw new UserError(
      `unknown command ${JSON.stringify(first)}: expected one of ${Object.keys(commands).join(', ')}`,
    );
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  const values = parseSettings(command.settings, rest, process.env);
  return command.run(values);
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`mlcycle: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(
        `mlcycle: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
