/**
 * Load benchmark of `mlcycle serve` logging to a real PostgreSQL, with the load generator on
 * the same machine. Prints figures; asserts nothing about speed.
 *
 *   npm run build && node dist/bench/serve-load.js [--model DIR] [--seconds 20]
 *
 * Needs `wrk` (Debian package), `vegeta` for the fixed-rate phase (`go install
 * github.com/tsenart/vegeta/v12@v12.12.0`; found on PATH, in $VEGETA or ~/go/bin; without it a
 * Node open-loop generator is used, which itself lags on a busy machine), and a PostgreSQL URL
 * in MLCYCLE_DATABASE_URL or the test services from hack/services-up. Without --model it serves
 * the flights-like fixture model.
 *
 * 1. /predict at full speed (wrk, 64 connections): requests/s and latency percentiles.
 * 2. /predict at a fixed 2,000 requests/s (open loop, latency measured from the scheduled send
 *    time, so a stall is not hidden): p50/p99/p99.9.
 * 3. /predict_batch with 1,000-record requests: records/s.
 * 4. SIGTERM, then rows in PostgreSQL for this run = successful responses the server sent.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { createPool } from '../core/db/index.js';
import { fixtureRecord, writeFixtureModel } from '../test/fixtures/model.js';
import { benchDatabaseUrl } from './services.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
    rate: { type: 'string', default: '2000' },
  },
});
const seconds = Number(args.seconds);

function databaseUrl(): string {
  const url = benchDatabaseUrl();
  if (!url) throw new Error('set MLCYCLE_DATABASE_URL or start the test services with hack/services-up');
  return url;
}

async function startServer(
  model: string,
  url: string,
  spill: string,
): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/mlcycle'), 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0'],
    {
      env: {
        ...process.env,
        MLCYCLE_DATABASE_URL: url,
        MLCYCLE_LOG_SPILL_DIR: spill,
        MLCYCLE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const base = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { url: string }).url),
    );
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, base };
}

interface WrkResult {
  requests: number;
  non2xx: number;
  seconds: number;
  rps: number;
  latency: Record<string, string>;
}

/** Runs wrk with a Lua script that gives every request a unique X-Request-Id. */
async function wrk(
  base: string,
  script: string,
  connections: number,
  duration: number,
  threads = 1,
): Promise<WrkResult> {
  const { stdout } = await run(
    'wrk',
    [`-t${threads}`, `-c${connections}`, `-d${duration}s`, '--latency', '-s', script, base],
    { maxBuffer: 1 << 20 },
  ).catch((err: Error) => {
    throw new Error(`wrk failed (apt-get install wrk): ${err.message}`);
  });
  const total = /(\d+) requests in ([\d.]+)(m?s)/.exec(stdout);
  const latency: Record<string, string> = {};
  for (const m of stdout.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+\w+)/gm)) latency[`p${m[1]}`] = m[2]!;
  const requests = Number(total?.[1] ?? 0);
  const secs = Number(total?.[2] ?? 0) / (total?.[3] === 'ms' ? 1000 : 1);
  return {
    requests,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    seconds: secs,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0),
    latency,
  };
}

function luaScript(path: string, bodyFile: string, prefix: string): string {
  return `
local counter = 0
local threads = 0
local body = io.open("${bodyFile}"):read("*a")
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  return wrk.format("POST", "${path}", {["Content-Type"] = "application/json",
    ["X-Request-Id"] = "${prefix}-" .. tid .. "-" .. counter}, body)
end
`;
}

function findVegeta(): string | undefined {
  const candidates = [
    process.env.VEGETA,
    ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'vegeta')),
    join(homedir(), 'go/bin/vegeta'),
  ];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

/** Constant-rate load with vegeta (HDR latencies, coordinated omission accounted for). */
async function vegetaRate(
  vegeta: string,
  base: string,
  rate: number,
  duration: number,
  body: string,
  dir: string,
) {
  const encoded = Buffer.from(body).toString('base64');
  const tag = randomUUID().slice(0, 8);
  const lines: string[] = [];
  for (let i = 0; i < rate * duration + rate; i++) {
    lines.push(
      JSON.stringify({
        method: 'POST',
        url: `${base}/predict`,
        header: { 'Content-Type': ['application/json'], 'X-Request-Id': [`veg-${tag}-${i}`] },
        body: encoded,
      }),
    );
  }
  const targets = join(dir, `targets-${tag}.jsonl`);
  await writeFile(targets, `${lines.join('\n')}\n`);
  const results = join(dir, `results-${tag}.bin`);
  await run(
    vegeta,
    [
      'attack',
      '-format=json',
      `-targets=${targets}`,
      '-lazy',
      `-rate=${rate}`,
      `-duration=${duration}s`,
      `-output=${results}`,
    ],
    {
      maxBuffer: 1 << 20,
    },
  );
  const { stdout } = await run(vegeta, ['report', '-type=json', results], { maxBuffer: 1 << 20 });
  const report = JSON.parse(stdout) as {
    requests: number;
    latencies: Record<string, number>;
    status_codes: Record<string, number>;
  };
  const ms = (ns: number | undefined) => ((ns ?? 0) / 1e6).toFixed(2);
  return {
    sent: report.requests,
    ok: report.status_codes['200'] ?? 0,
    errors: report.requests - (report.status_codes['200'] ?? 0),
    p50: ms(report.latencies['50th']),
    p99: ms(report.latencies['99th']),
    p999: 'n/a',
    max: ms(report.latencies.max),
  };
}

/** Open-loop load at a fixed rate; latency from each request's scheduled time to its answer. */
async function fixedRate(base: string, rate: number, duration: number, body: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL('/predict', base);
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  const start = performance.now();
  const total = rate * duration;
  await new Promise<void>((resolve) => {
    let done = 0;
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * rate));
      while (n < due) {
        const scheduled = start + (n / rate) * 1000;
        const id = `rate-${randomUUID()}`;
        n++;
        const req = request(
          url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-request-id': id } },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) latencies.push(performance.now() - scheduled);
              else errors++;
              if (++done === total) resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          if (++done === total) resolve();
        });
        req.end(body);
      }
      if (n < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
  return { sent: total, ok: latencies.length, errors, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: q(1) };
}

/** Waits until the server's prediction log has nothing left in memory, in flight or spilled. */
async function logCaughtUp(base: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    const r = (await (await fetch(`${base}/readyz`)).json()) as {
      prediction_log: { queue_depth: number; in_flight_rows: number; spilled_rows: number };
    };
    const log = r.prediction_log;
    if (log.queue_depth + log.in_flight_rows + log.spilled_rows === 0)
      return (performance.now() - start) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The server's own latency histogram for a route: cumulative counts by bucket bound. */
async function serverHistogram(base: string, route: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  const re = new RegExp(
    `^mlcycle_http_request_duration_seconds_bucket\\{le="([^"]+)",route="${route}"\\} (\\d+)`,
    'gm',
  );
  for (const m of text.matchAll(re)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** The bucket bound under which `q` of the requests between two snapshots fell. */
function histogramQuantile(before: Map<string, number>, after: Map<string, number>, q: number): string {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [le, count] of after) {
    if (count - (before.get(le) ?? 0) >= q * total)
      return le === '+Inf' ? '> 1 s' : `≤ ${Number(le) * 1000} ms`;
  }
  return '?';
}

async function serverCounter(
  base: string,
  route: string,
  metric = 'mlcycle_http_requests_total',
): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const series =
    metric === 'mlcycle_http_requests_total'
      ? `${metric}{route="${route}",status="200"} `
      : `${metric}{route="${route}"} `;
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.slice(series.length)) : 0;
}

/**
 * Flights-like records shaped to the served model's schema: the fixture's fields that the
 * schema has (a trained flights model takes date, distance, origin, destination).
 */
function recordsFor(modelDir: string): (i: number) => Record<string, unknown> {
  const schema = JSON.parse(readFileSync(join(modelDir, 'schema.json'), 'utf8')) as {
    features: { name: string }[];
  };
  const features = schema.features as { name: string; nullable?: boolean }[];
  const names = features.map((f) => f.name);
  const missing = names.filter((n) => !(n in fixtureRecord(0)));
  if (missing.length > 0) throw new Error(`the bench cannot make values for ${missing.join(', ')}`);
  return (i) => {
    const full = fixtureRecord(i);
    const fallback = fixtureRecord(i + 1);
    // The fixture leaves some fields null now and then; keep nulls only where the schema allows them.
    return Object.fromEntries(
      features.map((f) => [f.name, full[f.name] ?? (f.nullable ? null : fallback[f.name])]),
    );
  };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'mlcycle-bench-'));
  const url = databaseUrl();
  const modelName = `bench-${randomUUID().slice(0, 8)}`;
  const modelDir = args.model ?? (await writeFixtureModel(join(dir, 'model'), { modelName })).dir;
  const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as { modelName: string };
  const prefix = randomUUID().slice(0, 8);
  const single = join(dir, 'single.json');
  const batch = join(dir, 'batch.json');
  const record = recordsFor(modelDir);
  await writeFile(single, JSON.stringify(record(1)));
  await writeFile(batch, JSON.stringify(Array.from({ length: 1000 }, (_, i) => record(i))));
  for (const [name, path, body] of [
    ['predict.lua', '/predict', single],
    ['warm.lua', '/predict', single],
    ['batch.lua', '/predict_batch', batch],
  ] as const) {
    await writeFile(join(dir, name), luaScript(path, body, `${prefix}-${name}`));
  }

  const runStartedAt = new Date();
  const { child, base } = await startServer(modelDir, url, join(dir, 'spill'));
  const cores = cpus().length;
  const load = loadavg()[0]!.toFixed(2);
  console.log(
    `mlcycle serve load benchmark — model ${manifest.modelName}, ${cores} cores, load average ${load}`,
  );
  console.log(`server ${base}, PostgreSQL logging on, wrk on the same machine\n`);

  await wrk(base, join(dir, 'warm.lua'), 16, 3);
  const full = await wrk(base, join(dir, 'predict.lua'), Number(args.connections), seconds);
  console.log(
    `/predict, ${args.connections} connections, ${seconds} s: ${full.rps.toFixed(0)} requests/s ` +
      `(${full.requests} requests, ${full.non2xx} non-2xx); latency p50 ${full.latency.p50}, p90 ${full.latency.p90}, p99 ${full.latency.p99}`,
  );

  const lag1 = await logCaughtUp(base);
  console.log(`  prediction log caught up ${lag1.toFixed(1)} s after the load stopped`);

  const rate = Number(args.rate);
  const vegeta = findVegeta();
  const singleBody = readFileSync(single, 'utf8');
  const atRate = (duration: number) =>
    vegeta
      ? vegetaRate(vegeta, base, rate, duration, singleBody, dir)
      : fixedRate(base, rate, duration, singleBody);
  await atRate(2); // opens the connections
  const before = await serverHistogram(base, '/predict');
  const fixed = await atRate(seconds);
  const after = await serverHistogram(base, '/predict');
  console.log(
    `/predict at ${rate} requests/s for ${seconds} s (${vegeta ? 'vegeta' : 'Node open-loop generator'}): ${fixed.ok}/${fixed.sent} ok, ${fixed.errors} errors; ` +
      `latency p50 ${fixed.p50} ms, p99 ${fixed.p99} ms, p99.9 ${fixed.p999} ms, max ${fixed.max} ms`,
  );
  console.log(
    `  inside the server (request parsed → answered, its own histogram): p50 ${histogramQuantile(before, after, 0.5)}, ` +
      `p99 ${histogramQuantile(before, after, 0.99)}; load average now ${loadavg()[0]!.toFixed(2)}`,
  );

  await logCaughtUp(base);

  const beforeBatch = await serverHistogram(base, '/predict_batch');
  const batched = await wrk(base, join(dir, 'batch.lua'), 4, seconds);
  const afterBatch = await serverHistogram(base, '/predict_batch');
  console.log(
    `/predict_batch, 1,000 records per request, 4 connections, ${seconds} s: ${(batched.rps * 1000).toFixed(0)} records/s ` +
      `(${batched.requests} requests, ${batched.non2xx} non-2xx); latency p50 ${batched.latency.p50}, p99 ${batched.latency.p99}`,
  );
  console.log(
    `  inside the server: p50 ${histogramQuantile(beforeBatch, afterBatch, 0.5)}, p99 ${histogramQuantile(beforeBatch, afterBatch, 0.99)} per request`,
  );
  const lag3 = await logCaughtUp(base);
  const rows = batched.requests * 1000;
  console.log(
    `  prediction log caught up ${lag3.toFixed(1)} s after the load stopped: ~${(rows / (batched.seconds + lag3)).toFixed(0)} rows/s ` +
      'written to PostgreSQL on average (beyond the in-memory bound rows wait in spill files)',
  );

  const ok = (await serverCounter(base, '/predict')) + 1000 * (await serverCounter(base, '/predict_batch'));
  // Requests in flight when wrk stopped: answered by the server, but the client had gone.
  const abandoned =
    (await serverCounter(base, '/predict', 'mlcycle_http_requests_aborted_total')) +
    1000 * (await serverCounter(base, '/predict_batch', 'mlcycle_http_requests_aborted_total'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  const drainMs = performance.now() - stopAt;
  const pool = createPool(url, { max: 1 });
  const { rows: count } = await pool.query(
    // This run's rows only: a --model of a trained version shares its name with earlier runs.
    'SELECT count(*)::int AS n FROM prediction_logs WHERE model_name = $1 AND created_at >= $2',
    [manifest.modelName, runStartedAt],
  );
  await pool.end();
  const n = count[0].n as number;
  const accounted = n >= ok && n <= ok + abandoned;
  console.log(
    `\nafter SIGTERM (exit ${code}, ${drainMs.toFixed(0)} ms to drain): ${n} rows in PostgreSQL; the server answered ` +
      `${ok} predictions with 200 (incl. warm-up) and ${abandoned} more to clients that had gone (wrk stopping) → ` +
      (accounted ? 'every row accounted for' : 'MISMATCH'),
  );
  if (!accounted) process.exitCode = 1;
}

await main();
