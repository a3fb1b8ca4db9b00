import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A thin kubectl driver for the cluster smoke test: the built kubectl from the
 * hack/build-k8s cache and the kubeconfig hack/cluster-up writes, both overridable
 * (KUBECTL, KUBECONFIG), so the same test runs against a kind cluster too.
 */
export const cacheDir = process.env.MLCYCLE_CACHE ?? join(homedir(), '.cache', 'mlcycle');
export const stateDir = process.env.MLCYCLE_STATE_CLUSTER ?? '/tmp/mlcycle-cluster';
export const kubectlPath = process.env.KUBECTL ?? join(cacheDir, 'bin', 'kubectl');
export const kubeconfig = process.env.KUBECONFIG ?? join(stateDir, 'kubeconfig');

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl synchronously; throws with its stderr unless `allowFail`. */
export function kubectl(
  args: string[],
  opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {},
): Result {
  const r = spawnSync(kubectlPath, args, {
    input: opts.input,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: kubeconfig },
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  const res = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (res.status !== 0 && !opts.allowFail) {
    throw new Error(
      `kubectl ${args.join(' ')} failed (${res.status}): ${res.stderr.trim() || res.stdout.trim()}`,
    );
  }
  return res;
}

/** `kubectl apply` of objects given as plain JS values. */
export function apply(...objects: object[]): string {
  const list = { apiVersion: 'v1', kind: 'List', items: objects };
  return kubectl(['apply', '-f', '-'], { input: JSON.stringify(list) }).stdout;
}

export function getJson<T = Record<string, unknown>>(args: string[]): T {
  return JSON.parse(kubectl(['get', ...args, '-o', 'json']).stdout) as T;
}

/**
 * Runs kubectl asynchronously (a blocked worker would starve vitest's RPC); rejects with
 * its stderr unless `allowFail`.
 */
export function kubectlAsync(
  args: string[],
  opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = spawn(kubectlPath, args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const res = { status: code ?? -1, stdout, stderr };
      if (res.status !== 0 && !opts.allowFail) {
        const why = signal ? `killed by ${signal}` : `exit ${res.status}`;
        reject(new Error(`kubectl ${args.join(' ')} failed (${why}): ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve(res);
      }
    });
    proc.stdin.end(opts.input ?? '');
  });
}

/** `kubectl apply` of objects given as plain JS values (async). */
export async function applyAsync(...objects: object[]): Promise<string> {
  const list = { apiVersion: 'v1', kind: 'List', items: objects };
  return (await kubectlAsync(['apply', '-f', '-'], { input: JSON.stringify(list) })).stdout;
}

export async function getJsonAsync<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return JSON.parse((await kubectlAsync(['get', ...args, '-o', 'json'])).stdout) as T;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts `kubectl port-forward` on a free local port; resolves with the port and the process. */
export function portForward(
  namespace: string,
  target: string,
  remotePort: number,
): Promise<{ port: number; proc: ChildProcess }> {
  const proc = spawn(
    kubectlPath,
    ['-n', namespace, 'port-forward', '--address', '127.0.0.1', target, `:${remotePort}`],
    {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill();
      reject(new Error(`port-forward did not start: ${out}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), proc });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward exited (${code}): ${out}`));
    });
  });
}
