import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Runs the real entry point on the built output (npm test builds first).
const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/mlcycle', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('bin/mlcycle', () => {
  it('lists the subcommands', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const name of ['train', 'serve', 'drift', 'operator', 'demo'])
      expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('prints the package version', async () => {
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects an unknown command and an unknown flag on one line, exit 2', async () => {
    const unknown = await run(['deploy']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'mlcycle: unknown command "deploy": expected one of train, serve, drift, operator, demo\n',
    );
    const flag = await run(['train', '--bogus', '1']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^mlcycle: unknown flag '--bogus'\n$/);
  });
});
