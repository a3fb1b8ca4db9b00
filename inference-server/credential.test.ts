import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BearerCredential } from './credential.js';

const TOKEN = 'a-token-of-enough-length-42';

afterEach(() => {
  vi.useRealTimers();
});

describe('BearerCredential', () => {
  it('accepts exactly `Bearer <token>` and nothing else', () => {
    const c = BearerCredential.from('feedback token', { token: TOKEN })!;
    expect(c.accepts(`Bearer ${TOKEN}`)).toBe(true);
    expect(c.accepts(`bearer ${TOKEN}`)).toBe(true); // the scheme is case-insensitive (RFC 9110)
    for (const wrong of [
      undefined,
      '',
      TOKEN,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN} extra`,
      'Bearer ',
    ]) {
      expect(c.accepts(wrong), String(wrong)).toBe(false);
    }
  });

  it('is absent without a token, and refuses a short one or both sources without echoing them', () => {
    expect(BearerCredential.from('feedback token', {})).toBeUndefined();
    expect(() => BearerCredential.from('feedback token', { token: 'short-secret' })).toThrow(
      /at least 16 characters \(got 12\)/,
    );
    expect(() => BearerCredential.from('feedback token', { token: 'short-secret' })).not.toThrow(
      /short-secret/,
    );
    expect(() => BearerCredential.from('x', { token: TOKEN, file: '/nonexistent' })).toThrow(/not both/);
    expect(() => BearerCredential.from('x', { file: '/nonexistent/token' })).toThrow(
      /cannot read the token file/,
    );
  });

  it('reads the first line of a token file, and takes a rotated token without a restart', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const dir = mkdtempSync(join(tmpdir(), 'mlcycle-credential-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    const c = BearerCredential.from('feedback token', { file })!;
    expect(c.accepts(`Bearer ${TOKEN}`)).toBe(true);
    const rotated = 'the-rotated-token-0123456789';
    writeFileSync(file, rotated);
    utimesSync(file, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    vi.setSystemTime(Date.now() + 10_000);
    expect(c.accepts(`Bearer ${rotated}`)).toBe(true);
    expect(c.accepts(`Bearer ${TOKEN}`)).toBe(false);
    // A file that cannot be read mid-rotation leaves the last good token in force.
    writeFileSync(file, 'short');
    utimesSync(file, new Date(Date.now() + 120_000), new Date(Date.now() + 120_000));
    vi.setSystemTime(Date.now() + 10_000);
    expect(c.accepts(`Bearer ${rotated}`)).toBe(true);
  });
});
