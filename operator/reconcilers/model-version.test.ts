import { describe, expect, it } from 'vitest';
import { jobState, lastMeaningfulLine } from './model-version.js';

describe('lastMeaningfulLine', () => {
  it('prefers the CLI error line over a stack trace and the Node.js banner', () => {
    const tail = [
      'mlcycle: unexpected error: Error: librt.so.1: cannot open shared object file',
      '    at Module._extensions..node (node:internal/modules/cjs/loader:1661:18)',
      "  code: 'ERR_DLOPEN_FAILED'",
      '}',
      'Node.js v20.20.2',
    ].join('\n');
    expect(lastMeaningfulLine(tail)).toBe(
      'unexpected error: Error: librt.so.1: cannot open shared object file',
    );
  });

  it('falls back to an Error line, then to the last line; reads JSON logs', () => {
    expect(lastMeaningfulLine('a\nTypeError: x is not a function\n    at y\n')).toBe(
      'TypeError: x is not a function',
    );
    expect(lastMeaningfulLine('first\nlast\n')).toBe('last');
    expect(lastMeaningfulLine('{"level":50,"msg":"dataset not found"}')).toBe('dataset not found');
    expect(lastMeaningfulLine('')).toBe('');
  });
});

describe('jobState', () => {
  it('reads the Job conditions and active Pods', () => {
    expect(jobState({ status: { conditions: [{ type: 'Complete', status: 'True' }] } })).toBe('succeeded');
    expect(jobState({ status: { conditions: [{ type: 'Failed', status: 'True' }] } })).toBe('failed');
    expect(jobState({ status: { conditions: [{ type: 'FailureTarget', status: 'True' }], active: 1 } })).toBe(
      'failed',
    );
    expect(jobState({ status: { active: 1 } })).toBe('running');
    expect(jobState({})).toBe('pending');
  });
});
