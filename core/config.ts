import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * One setting of a subcommand. Every setting can be given as a flag or as an environment
 * variable (the flag wins), so the same command line works on a laptop and in a Pod spec.
 */
export interface Setting<S extends z.ZodType = z.ZodType> {
  /** Flag name without dashes, e.g. `dataset` for `--dataset`. */
  flag: string;
  /** Environment variable, e.g. `MLCYCLE_DATASET`. */
  env: string;
  description: string;
  schema: S;
  /** A boolean switch (`--verbose`) rather than a flag that takes a value. */
  boolean?: boolean;
  /** A credential: an invalid value is never echoed in the error. */
  secret?: boolean;
}

export type Settings = Record<string, Setting>;

export type SettingsValues<T extends Settings> = { [K in keyof T]: z.output<T[K]['schema']> };

export function setting<S extends z.ZodType>(def: Setting<S>): Setting<S> {
  return def;
}

/** Turns a zod issue list into "expected …, got …" for one setting. */
function describeIssues(issues: z.core.$ZodIssue[], raw: unknown): string {
  const what = issues.map((i) => i.message).join('; ');
  return raw === undefined ? what : `${what} (got ${JSON.stringify(raw)})`;
}

/**
 * Parses flags and environment variables against `defs`. Unknown flags, missing values and
 * invalid values throw a ConfigError whose message names the flag and its variable.
 */
export function parseSettings<T extends Settings>(
  defs: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): SettingsValues<T> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const def of Object.values(defs)) options[def.flag] = { type: def.boolean ? 'boolean' : 'string' };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(cleanParseArgsMessage(err));
  }

  const values: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) {
    const fromFlag = parsed.values[def.flag];
    const fromEnv = env[def.env];
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    const input = def.boolean && typeof raw === 'string' ? parseBooleanEnv(raw, def) : raw;
    const result = def.schema.safeParse(input);
    if (!result.success) {
      const source = fromFlag !== undefined ? `--${def.flag}` : `${def.env}`;
      throw new ConfigError(
        `invalid ${source} (flag --${def.flag}, env ${def.env}): ${describeIssues(result.error.issues, def.secret ? undefined : raw)}`,
      );
    }
    values[key] = result.data;
  }
  return values as SettingsValues<T>;
}

function parseBooleanEnv(raw: string, def: Setting): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(
    `invalid ${def.env} (flag --${def.flag}): expected true or false (got ${JSON.stringify(raw)})`,
  );
}

function cleanParseArgsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // node's parseArgs appends advice about "--" that does not apply to us.
  return message
    .replace(/\. To specify a positional argument.*$/s, '')
    .replace(/^Unknown option/, 'unknown flag');
}

/** What a flag value can be on a command line. */
type ArgScalar = string | number | boolean;

/**
 * The values `settingsToArgs` takes: the settings' own keys (a renamed or removed setting is a
 * type error at every caller), each as its schema's input (what the parser accepts), e.g. a
 * duration as "24h", a timestamp as an ISO string.
 */
export type SettingsArgs<T extends Settings> = {
  [K in keyof T]?: (z.input<T[K]['schema']> & ArgScalar) | undefined;
};

/**
 * The inverse of `parseSettings`: argv that parses back to `values` with the same `defs`. A
 * process that starts another one (the operator starting a Job) builds its arguments here from
 * the very definitions the started command parses, so the two cannot disagree on a flag.
 * Undefined values are left out (the command applies its default); a switch is given when
 * true. Values are written `--flag=value`, so one starting with a dash stays a value.
 */
export function settingsToArgs<T extends Settings>(defs: T, values: SettingsArgs<T>): string[] {
  const args: string[] = [];
  for (const [key, def] of Object.entries(defs)) {
    const value = (values as Record<string, ArgScalar | undefined>)[key];
    if (value === undefined) continue;
    if (def.boolean) {
      if (typeof value !== 'boolean')
        throw new ConfigError(`--${def.flag} is a switch: expected true or false`);
      if (value) args.push(`--${def.flag}`);
      else if (def.schema.safeParse(undefined).data === true)
        throw new ConfigError(`--${def.flag} defaults to true: a switch cannot say false`);
      continue;
    }
    args.push(`--${def.flag}=${String(value)}`);
  }
  return args;
}

/** Help text for a subcommand's settings, one line per setting. */
export function formatSettingsHelp(defs: Settings): string {
  const rows = Object.values(defs).map((d) => {
    const flag = d.boolean ? `--${d.flag}` : `--${d.flag} <value>`;
    return { left: `  ${flag}`, right: `${d.description} [env ${d.env}]` };
  });
  const width = Math.max(...rows.map((r) => r.left.length), 10) + 2;
  return rows.map((r) => r.left.padEnd(width) + r.right).join('\n');
}

/** Common field schemas, so every command speaks the same language. */
export const fields = {
  port: z.coerce.number().int().min(0).max(65535),
  positiveInt: z.coerce.number().int().positive(),
  nonNegativeInt: z.coerce.number().int().nonnegative(),
  fraction: z.coerce.number().min(0).max(1),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  duration: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 500ms, 30s, 15m, 24h or 7d')
    .transform(parseDuration),
};

/** Parses "30s", "15m", "24h", "7d" into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new ConfigError(`invalid duration ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(match[1]) * unit;
}
