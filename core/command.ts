import type { Settings, SettingsValues } from './config.js';

/**
 * One `mlcycle` subcommand. Each lifecycle stage exports one from its `command.ts`; the CLI
 * parses and validates its settings, then calls `run` with typed values. `run` returns the
 * process exit code.
 */
export interface Command<T extends Settings = Settings> {
  name: string;
  summary: string;
  /** Longer help shown by `mlcycle <name> --help`, above the settings. */
  description?: string;
  settings: T;
  run(values: SettingsValues<T>): Promise<number>;
}

export function defineCommand<T extends Settings>(command: Command<T>): Command<T> {
  return command;
}
