import { describe, expect, it } from 'vitest';
import { DataError } from '../errors.js';
import { isProductionUri, parseProductionUri, productionUri } from './production.js';

describe('production window URIs', () => {
  const since = new Date('2026-11-24T00:00:00Z');
  const until = new Date('2026-12-01T00:00:00Z');

  it('round-trips every part, an original dataset URI with its own query included', () => {
    const window = {
      model: 'flights-delay',
      since,
      until,
      versions: ['v1', 'v2-r1a2b3c'],
      original: { uri: 's3://data/flights.parquet?x=1&y=2', rows: 5000 },
    };
    const uri = productionUri(window);
    expect(isProductionUri(uri)).toBe(true);
    expect(parseProductionUri(uri)).toEqual(window);
  });

  it('keeps milliseconds when a bound has them: no row of the window is lost to rounding', () => {
    const window = {
      model: 'm',
      since: new Date('2026-11-24T00:00:00.250Z'),
      until: new Date('2026-12-01T00:00:00.999Z'),
    };
    const uri = productionUri(window);
    expect(uri).toBe('production:m?since=2026-11-24T00:00:00.250Z&until=2026-12-01T00:00:00.999Z');
    expect(parseProductionUri(uri)).toEqual(window);
    expect(productionUri({ model: 'm', since, until })).toBe(
      'production:m?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z',
    );
  });

    it('reads the form the operator writes by hand', () => {
    expect(parseProductionUri('production:m?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z')).toEqual({
      model: 'm',
      since,
      until,
      versions: undefined,
      original: undefined,
    });
  });

  it('says what is wrong with a bad URI', () => {
    const bad = (uri: string, message: RegExp) => {
      expect(() => parseProductionUri(uri)).toThrow(DataError);
      expect(() => parseProductionUri(uri)).toThrow(message);
    };
    bad('production:m', /since is missing/);
    bad('production:Bad_Name?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z', /DNS-1123/);
    bad('production:m?since=yesterday&until=2026-12-01T00:00:00Z', /not an RFC 3339 time/);
    bad('production:m?since=2026-12-01T00:00:00Z&until=2026-11-24T00:00:00Z', /since must be before until/);
    bad('production:m?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z&original=a.csv', /go together/);
    bad(
      'production:m?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z&original=a.csv&originalRows=0',
      /positive integer/,
    );
  });
});
