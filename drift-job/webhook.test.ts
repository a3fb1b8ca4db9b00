import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook, refusedAddress } from './webhook.js';

/**
 * Alert delivery against real HTTP servers on 127.0.0.1: a receiver gets the alert; a redirect
 * is a failed delivery and is not followed; link-local and cloud metadata destinations are
 * refused before any connection, also when a name resolves to one.
 */

interface Receiver {
  url: string;
  requests: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[];
  connections: number;
}

const servers: Server[] = [];

async function receiver(answer: (r: Receiver) => { status: number; headers?: Record<string, string> }) {
  const r: Receiver = { url: '', requests: [], connections: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      r.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const a = answer(r);
      res.writeHead(a.status, a.headers).end();
    });
  });
  server.on('connection', () => {
    r.connections++;
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  servers.push(server);
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
});

/** A resolver that gives `name` these addresses and every other name the system's. */
function resolving(name: string, addresses: string[], calls: string[] = []): typeof dnsLookup {
  return ((hostname: string, options: object, callback: (e: null, a: LookupAddress[]) => void) => {
    calls.push(hostname);
    if (hostname !== name) return dnsLookup(hostname, { ...options, all: true }, callback as never);
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  }) as unknown as typeof dnsLookup;
}

const payload = { text: 'mlcycle drift: flights v1: Drift.' };

describe('postWebhook', () => {
  it('delivers to a receiver on 127.0.0.1 (loopback is allowed), with the idempotency key', async () => {
    const r = await receiver(() => ({ status: 200 }));
    const result = await postWebhook(`${r.url}/hooks/T0/B0/secret`, payload, {
      idempotencyKey: 'ns/dm/run-1',
    });
    expect(result).toEqual({ delivered: true, attempts: 1, error: null });
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({ method: 'POST', url: '/hooks/T0/B0/secret' });
    expect(r.requests[0]?.headers['idempotency-key']).toBe('ns/dm/run-1');
    expect(JSON.parse(r.requests[0]?.body ?? '')).toEqual(payload);
  });

  it('refuses a redirect: a failed delivery, nothing followed, no retry', async () => {
    const elsewhere = await receiver(() => ({ status: 200 }));
    for (const status of [301, 302, 307, 308]) {
      const r = await receiver(() => ({ status, headers: { location: `${elsewhere.url}/stolen` } }));
      const result = await postWebhook(`${r.url}/hook`, payload, { backoffMs: 1 });
      expect(result.delivered).toBe(false);
      expect(result.attempts).toBe(1);
      expect(result.error).toBe(
        `HTTP ${status}: the receiver redirects; alerts do not follow redirects (give the final URL)`,
      );
      expect(r.requests).toHaveLength(1);
    }
    expect(elsewhere.requests).toHaveLength(0);
    expect(elsewhere.connections).toBe(0);
  });

  it('refuses link-local and cloud metadata addresses in the URL before any connection', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.1.1:8080/hook',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/hook',
      'http://[fd00:ec2::254]/',
      'http://100.100.100.200/latest/meta-data/',
    ]) {
      const calls: string[] = [];
      const result = await postWebhook(url, payload, {
        resolve: resolving('-', [], calls),
        timeoutMs: 60_000,
      });
      expect(result.delivered, url).toBe(false);
      expect(result.attempts, url).toBe(0);
      expect(result.error, url).toMatch(/^refused: .* is a link-local or cloud metadata address/);
      expect(calls, url).toEqual([]);
    }
  });

  it('refuses a name resolving to a metadata address, also beside an allowed one, and never connects', async () => {
    const r = await receiver(() => ({ status: 200 }));
    const port = new URL(r.url).port;
    for (const addresses of [['169.254.169.254'], ['127.0.0.1', '169.254.169.254'], ['fd00:ec2::254']]) {
      const calls: string[] = [];
      const result = await postWebhook(`http://hooks.example:${port}/hook`, payload, {
        resolve: resolving('hooks.example', addresses, calls),
      });
      expect(result.delivered).toBe(false);
      expect(result.attempts).toBe(1);
      expect(result.error).toMatch(
        /^refused: hooks\.example resolves to .* is a link-local or cloud metadata/,
      );
      expect(calls).toEqual(['hooks.example']);
    }
    expect(r.connections).toBe(0);
  });

  it('connects to the address it checked: a name resolving to 127.0.0.1 reaches the receiver', async () => {
    const r = await receiver(() => ({ status: 204 }));
    const calls: string[] = [];
    const result = await postWebhook(`http://hooks.example:${new URL(r.url).port}/hook`, payload, {
      resolve: resolving('hooks.example', ['127.0.0.1'], calls),
    });
    expect(result).toEqual({ delivered: true, attempts: 1, error: null });
    expect(calls).toEqual(['hooks.example']);
    expect(r.requests[0]?.headers.host).toBe(`hooks.example:${new URL(r.url).port}`);
  });

  it('with allowLinkLocal, a metadata address is tried (and here, unreachable, fails as a network error)', async () => {
    const result = await postWebhook('http://169.254.169.254:9/', payload, {
      allowLinkLocal: true,
      attempts: 1,
      timeoutMs: 300,
    });
    expect(result.delivered).toBe(false);
    expect(result.attempts).toBe(1);
    expect(result.error).not.toMatch(/^refused/);
  });

  it('retries a 5xx, gives up on a 4xx, and never prints the URL', async () => {
    const flaky = await receiver((r) => ({ status: r.requests.length < 2 ? 503 : 200 }));
    expect(await postWebhook(`${flaky.url}/x`, payload, { backoffMs: 1 })).toEqual({
      delivered: true,
      attempts: 2,
      error: null,
    });
    const gone = await receiver(() => ({ status: 404 }));
    expect(await postWebhook(`${gone.url}/hooks/secret-key`, payload, { backoffMs: 1 })).toEqual({
      delivered: false,
      attempts: 1,
      error: 'HTTP 404',
    });
    const closed = await receiver(() => ({ status: 200 }));
    const port = new URL(closed.url).port;
    await new Promise((ok) => servers.pop()?.close(ok));
    const down = await postWebhook(`http://127.0.0.1:${port}/hooks/secret-key`, payload, { backoffMs: 1 });
    expect(down.delivered).toBe(false);
    expect(down.attempts).toBe(3);
    expect(down.error).not.toContain('secret-key');
  });
});

describe('refusedAddress', () => {
  it('refuses link-local and metadata addresses, allows loopback and private ones', () => {
    for (const a of [
      '169.254.169.254',
      '169.254.0.1',
      'fe80::1',
      '[fe80::abcd]',
      'fd00:ec2::254',
      '100.100.100.200',
      '::ffff:a9fe:a9fe',
      '64:ff9b::169.254.169.254',
      '64:ff9b::100.100.100.200',
    ])
      expect(refusedAddress(a), a).not.toBeNull();
    for (const a of [
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '192.168.1.1',
      '172.16.0.1',
      'fd00::1',
      '100.100.100.201',
      'hooks.slack.com',
    ])
      expect(refusedAddress(a), a).toBeNull();
  });
});
