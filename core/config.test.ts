import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fields, parseDuration, parseSettings, setting, settingsToArgs } from './config.js';
import { ConfigError } from './errors.js';

const defs = {
  port: setting({
    flag: 'port',
    env: 'MLCYCLE_PORT',
    description: 'port',
    schema: fields.port.default(8080),
  }),
  name: setting({ flag: 'name', env: 'MLCYCLE_NAME', description: 'name', schema: z.string().min(2) }),
  verbose: setting({
    flag: 'verbose',
    env: 'MLCYCLE_VERBOSE',
    description: 'v',
    schema: z.boolean().default(false),
    boolean: true,
  }),
};

describe('parseSettings', () => {
  it('takes flags over environment variables and applies defaults', () => {
    const values = parseSettings(defs, ['--name', 'flights'], {
      MLCYCLE_NAME: 'ignored',
      MLCYCLE_PORT: '9000',
    });
    expect(values).toEqual({ port: 9000, name: 'flights', verbose: false });
  });

  it('reads booleans from flags and from the environment', () => {
    expect(parseSettings(defs, ['--name', 'ab', '--verbose'], {}).verbose).toBe(true);
    expect(parseSettings(defs, ['--name', 'ab'], { MLCYCLE_VERBOSE: 'yes' }).verbose).toBe(true);
    expect(() => parseSettings(defs, ['--name', 'ab'], { MLCYCLE_VERBOSE: 'maybe' })).toThrow(
      /MLCYCLE_VERBOSE/,
    );
  });

  it('names the flag and its variable when a value is invalid', () => {
    expect(() => parseSettings(defs, ['--name', 'ab', '--port', 'http'], {})).toThrow(
      /invalid --port \(flag --port, env MLCYCLE_PORT\):.*got "http"/,
    );
    expect(() => parseSettings(defs, ['--name', 'ab'], { MLCYCLE_PORT: '70000' })).toThrow(
      /invalid MLCYCLE_PORT/,
    );
  });

  it('never echoes the value of a secret setting', () => {
    const secret = {
      token: setting({
        flag: 'token',
        env: 'MLCYCLE_TOKEN',
        description: 't',
        schema: z.string().min(16),
        secret: true,
      }),
    };
    expect(() => parseSettings(secret, ['--token', 'hunter2'], {})).toThrow(/invalid --token/);
    expect(() => parseSettings(secret, ['--token', 'hunter2'], {})).not.toThrow(/hunter2/);
  });

  it('rejects unknown flags and missing required settings with a ConfigError', () => {
    expect(() => parseSettings(defs, ['--name', 'ab', '--colour', 'red'], {})).toThrow(ConfigError);
    expect(() => parseSettings(defs, ['--name', 'ab', '--colour', 'red'], {})).toThrow(
      /unknown flag '--colour'/,
    );
    expect(() => parseSettings(defs, [], {})).toThrow(/--name.*MLCYCLE_NAME/);
  });

  it('treats an empty environment variable as unset', () => {
    expect(parseSettings(defs, ['--name', 'ab'], { MLCYCLE_PORT: '' }).port).toBe(8080);
  });
});

describe('parseDuration', () => {
  it('parses every unit', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(() => parseDuration('1 week')).toThrow(/invalid duration/);
  });
});

describe('settingsToArgs', () => {
  const more = {
    ...defs,
    window: setting({
      flag: 'window',
      env: 'MLCYCLE_WINDOW',
      description: 'w',
      schema: fields.duration.optional(),
    }),
    margin: setting({ flag: 'margin', env: 'MLCYCLE_MARGIN', description: 'm', schema: z.coerce.number() }),
  };

  it('builds argv that parses back to the same values', () => {
    const args = settingsToArgs(more, {
      port: 9000,
      name: 'flights',
      verbose: true,
      window: '24h',
      margin: -0.5,
    });
    expect(args).toEqual(['--port=9000', '--name=flights', '--verbose', '--window=24h', '--margin=-0.5']);
    expect(parseSettings(more, args, {})).toEqual({
      port: 9000,
      name: 'flights',
      verbose: true,
      window: 86_400_000,
      margin: -0.5,
    });
  });

  it('leaves out undefined values and false switches, so the command applies its defaults', () => {
    const args = settingsToArgs(more, { name: 'ab', verbose: false, window: undefined, margin: 1 });
    expect(args).toEqual(['--name=ab', '--margin=1']);
    expect(parseSettings(more, args, {})).toMatchObject({ port: 8080, verbose: false });
  });

  it('refuses false for a switch that defaults to true', () => {
    const on = {
      on: setting({
        flag: 'on',
        env: 'X_ON',
        description: 'o',
        schema: z.boolean().default(true),
        boolean: true,
      }),
    };
    expect(() => settingsToArgs(on, { on: false })).toThrow(/defaults to true/);
  });

  it('takes only the settings keys (a renamed setting fails the typecheck)', () => {
    // @ts-expect-error: `colour` is not a setting
    expect(() => settingsToArgs(defs, { name: 'ab', colour: 'red' })).not.toThrow();
  });
});
