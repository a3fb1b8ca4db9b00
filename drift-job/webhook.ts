import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { errorMessage } from '../core/errors.js';
import type { DriftReport } from './report.js';

export interface WebhookResult {
  delivered: boolean;
  attempts: number;
  error: string | null;
}

/** The alert body: Slack-compatible (`text`), with the facts under `mlcycle` for other receivers. */
export function alertPayload(report: DriftReport, reportUri: string | null): Record<string, unknown> {
  const model = report.model.name
    ? `${report.model.name}${report.model.version ? ` ${report.model.version}` : ''}`
    : 'model';
  const alert = report.verdict.alert;
  const drifted = report.drifted_features.length
    ? ` Drifted: ${report.drifted_features.slice(0, 10).join(', ')}.`
    : '';
  const quality =
    report.quality.verdict === 'Degraded' || report.quality.verdict === 'Ok'
      ? ` Quality ${report.quality.verdict.toLowerCase()}: ${report.quality.metric} ${report.quality.value?.toFixed(4)} vs holdout ${report.quality.reference?.toFixed(4)} on ${report.quality.labelledRows} labels.`
      : '';
  const e = report.estimate;
  const chosen = e?.metrics.find((m) => m.metric === e.metric);
  const estimate =
    e && chosen && (e.verdict === 'Degraded' || e.verdict === 'Ok')
      ? ` Estimated before labels: ${e.metric} ${chosen.estimated.toFixed(4)} (band ${chosen.lowerBand.toFixed(4)}–${chosen.upperBand.toFixed(4)}, threshold ${chosen.lowerThreshold?.toFixed(4) ?? 'none'}).`
      : '';
  const text = `mlcycle drift: ${model}: ${alert ? alert.message : report.verdict.verdict}. Drift share ${(report.drift_share * 100).toFixed(0)}% (${report.rows.current} rows).${drifted}${quality}${estimate}${reportUri ? ` Report: ${reportUri}` : ''}`;
  return {
    text,
    mlcycle: {
      run_id: report.run_id,
      model: report.model,
      verdict: report.verdict.verdict,
      previous_verdict: alert?.from ?? null,
      dataset_drift: report.dataset_drift,
      drift_share: report.drift_share,
      drifted_features: report.drifted_features,
      prediction_drift: report.prediction_drift.drifted,
      quality: {
        verdict: report.quality.verdict,
        metric: report.quality.metric,
        value: report.quality.value ?? null,
        reference: report.quality.reference ?? null,
        labelled_rows: report.quality.labelledRows,
      },
      estimate: e
        ? {
            verdict: e.verdict,
            metric: e.metric,
            value: chosen?.estimated ?? null,
            lower: chosen?.lowerBand ?? null,
            upper: chosen?.upperBand ?? null,
            threshold: chosen?.lowerThreshold ?? null,
          }
        : null,
      rows: report.rows,
      report: reportUri,
    },
  };
}

/**
 * Destinations an alert is never sent to unless `allowLinkLocal`: link-local addresses (where
 * clouds put their instance metadata and its credentials) and the metadata services' other
 * addresses. Loopback and private (RFC 1918, ULA) addresses are allowed: in-cluster receivers
 * (Alertmanager, a relay) live there, and the demo's receiver on 127.0.0.1. An IPv4 address
 * written as IPv6 (`::ffff:169.254.169.254`) is checked as the IPv4 address it is.
 */
const REFUSED = new BlockList();
REFUSED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local; 169.254.169.254: AWS, GCP, Azure, OpenStack
REFUSED.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
REFUSED.addSubnet('fe80::', 10, 'ipv6'); // link-local
REFUSED.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
// The IPv4 ones through a NAT64 gateway (RFC 6052 well-known prefix 64:ff9b::/96).
REFUSED.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');
REFUSED.addAddress('64:ff9b::6464:64c8', 'ipv6');

/** Why `address` (an IP literal, brackets allowed) may not receive an alert, or null when it may. */
export function refusedAddress(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return null;
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:a9fe:a9fe) against the IPv4 rules.
  return REFUSED.check(bare, family === 4 ? 'ipv4' : 'ipv6')
    ? `${bare} is a link-local or cloud metadata address; alerts are not sent there (--alert-allow-link-local allows it)`
    : null;
}

/** An error that is final: the same destination refuses every attempt. */
class RefusedDestination extends Error {}

/**
 * The DNS lookup of an alert's connection: resolves the host once, refuses it when any of its
 * addresses is refused, and hands the socket exactly the addresses it checked — the connection
 * goes to a checked address, so a name that resolves differently a moment later (DNS
 * rebinding) cannot reach a refused one.
 */
function checkedLookup(allowLinkLocal: boolean, resolve: typeof dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = allowLinkLocal ? null : addresses.map((a) => refusedAddress(a.address)).find(Boolean);
      if (refused) return callback(new RefusedDestination(`${hostname} resolves to ${refused}`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

export interface WebhookOptions {
  attempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
  idempotencyKey?: string;
  /** Also send to link-local and cloud metadata addresses (refused by default). */
  allowLinkLocal?: boolean;
  /** The resolver (default: the system's, `dns.lookup`); tests give names their own addresses. */
  resolve?: typeof dnsLookup;
}

/** One POST: the status code, or a thrown error. Never follows a redirect. */
function postOnce(url: URL, body: string, o: WebhookOptions): Promise<number> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        // The same key on every attempt of one alert, across runs: a receiver drops repeats.
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}),
        },
        lookup: checkedLookup(o.allowLinkLocal === true, o.resolve ?? dnsLookup),
        // No pooled sockets: each attempt resolves and checks again.
        agent: false,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * POSTs the alert; retries transient failures (network, 5xx, 429) a few times with backoff.
 * With `idempotencyKey`, every attempt carries it as the `Idempotency-Key` header.
 *
 * The URL is a credential (a Slack webhook's path is its key): it never appears in the error.
 * A redirect is a failed delivery, never followed (a receiver cannot send the alert, or the
 * Pod's credentials in a request, elsewhere); so is a destination whose address is link-local
 * or a cloud metadata service (`refusedAddress`), checked before any connection — for an IP in
 * the URL before connecting, for a name on the addresses the connection then uses.
 */
export async function postWebhook(
  url: string,
  payload: Record<string, unknown>,
  options: WebhookOptions = {},
): Promise<WebhookResult> {
  const maxAttempts = options.attempts ?? 3;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { delivered: false, attempts: 0, error: 'the alert webhook is not a URL' };
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return { delivered: false, attempts: 0, error: `the alert webhook is not http(s) (${target.protocol})` };
  const literal = options.allowLinkLocal ? null : refusedAddress(target.hostname);
  if (literal) return { delivered: false, attempts: 0, error: `refused: ${literal}` };
  const body = JSON.stringify(payload);
  let error: string | null = null;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const status = await postOnce(target, body, options);
      if (status >= 200 && status < 300) return { delivered: true, attempts: attempt, error: null };
      if (status >= 300 && status < 400)
        return {
          delivered: false,
          attempts: attempt,
          error: `HTTP ${status}: the receiver redirects; alerts do not follow redirects (give the final URL)`,
        };
      error = `HTTP ${status}`;
      if (status < 500 && status !== 429) return { delivered: false, attempts: attempt, error };
    } catch (err) {
      if (err instanceof RefusedDestination)
        return { delivered: false, attempts: attempt, error: `refused: ${err.message}` };
      error = errorMessage(err);
    }
    if (attempt < maxAttempts)
      await new Promise((r) => setTimeout(r, (options.backoffMs ?? 500) * 2 ** (attempt - 1)));
  }
  return { delivered: false, attempts: maxAttempts, error };
}
