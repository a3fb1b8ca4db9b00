import { randomBytes } from 'node:crypto';
import yaml from 'js-yaml';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import {
  API_VERSION,
  ModelDeploymentKind,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import type { OperatorManager } from '../../operator/manager.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  helmRun,
  installCrds,
  kubectlRun,
  startOperator,
  waitForApi,
} from './operator-kit.js';

/**
 * Chart hardening on the real API server: the operator's PodDisruptionBudget and NetworkPolicy
 * children of a ModelDeployment (accepted, owned, collected with it), the chart's NetworkPolicies
 * and TLS settings accepted, and its RBAC narrowed by resourceNames as `kubectl auth can-i`
 * reports it. This cluster's network plugin (bridge) does not enforce NetworkPolicy: what the
 * policies let through is not tested here.
 */

const CHART = 'helm/mlcycle';
const RELEASE = `hard-${randomBytes(2).toString('hex')}`;
const FULLNAME = `${RELEASE}-mlcycle`;
const gateway = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway' } } };

let c: KubeClient;
let ns: string;
let op: OperatorManager | undefined;
const clusterScoped: string[] = [];

type Obj = { kind: string; metadata: { name: string; namespace?: string } };
type Child = {
  spec: Record<string, unknown>;
  metadata: { ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] };
};

async function render(extra: string[]): Promise<Obj[]> {
  const r = await helmRun(['template', RELEASE, CHART, '--namespace', ns, ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return (yaml.loadAll(r.stdout).filter(Boolean) as Obj[]).map((d) => d);
}

async function dryRun(d: Obj): Promise<void> {
  const r = await kubectlRun(['apply', '--dry-run=server', '-n', ns, '-f', '-'], JSON.stringify(d));
  expect(r.status, `${d.kind}/${d.metadata.name}: ${r.stderr}`).toBe(0);
}

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-hard');
  op = await startOperator({
    client: c,
    namespace: ns,
    pool: undefined as never, // nothing here reaches the registry: the version's status is set by hand
    config: { servingNetworkPolicy: { from: [gateway] } },
  });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  for (const path of clusterScoped) await c.delete(path).catch(() => {});
  if (ns) await deleteNamespace(c, ns);
});

describe('a ModelDeployment’s PodDisruptionBudget and NetworkPolicy', () => {
  it('are created by the operator, accepted by the API server, owned by it, and collected with it', async () => {
    await c.create(resourcePath(ModelVersionKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelVersion',
      metadata: { name: 'v1' },
      spec: { model: 'm', version: 'v1', dataset: { uri: 'builtin:flights' } },
    });
    await c.patch(`${resourcePath(ModelVersionKind, ns, 'v1')}/status`, {
      status: { phase: 'Registered', observedGeneration: 1 },
    });
    const md = await c.create<{ metadata: { uid: string } }>(resourcePath(ModelDeploymentKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: 'md' },
      spec: { modelVersion: 'v1', replicas: 2, resources: { requests: { cpu: '10m', memory: '64Mi' } } },
    });
    const pdb = await eventually('the PodDisruptionBudget', () =>
      c.getOrUndefined<Child>(kubePaths.podDisruptionBudget(ns, 'md')),
    );
    expect(pdb.spec).toMatchObject({
      maxUnavailable: 1,
      selector: { matchLabels: { 'mlcycle.dev/model-deployment': 'md' } },
    });
    expect(pdb.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'ModelDeployment',
        name: 'md',
        uid: md.metadata.uid,
        controller: true,
      }),
    ]);
    const np = await eventually('the NetworkPolicy', () =>
      c.getOrUndefined<Child>(kubePaths.networkPolicy(ns, 'md')),
    );
    expect(np.spec).toEqual({
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/component': 'inference-server',
          'mlcycle.dev/model-deployment': 'md',
        },
      },
      policyTypes: ['Ingress'],
      ingress: [{ from: [gateway], ports: [{ protocol: 'TCP', port: 8080 }] }],
    });
    expect(np.metadata.ownerReferences?.[0]).toMatchObject({ uid: md.metadata.uid, controller: true });

    await c.delete(resourcePath(ModelDeploymentKind, ns, 'md'));
    await eventually(
      'the garbage collector to remove both',
      async () =>
        !(await c.getOrUndefined(kubePaths.podDisruptionBudget(ns, 'md'))) &&
        !(await c.getOrUndefined(kubePaths.networkPolicy(ns, 'md'))),
      90_000,
    );
  }, 180_000);
});

describe('the chart', () => {
  it('renders NetworkPolicies for the in-cluster PostgreSQL and MinIO that the API server accepts, none when disabled', async () => {
    const on = (await render([])).filter((d) => d.kind === 'NetworkPolicy');
    expect(on.map((d) => d.metadata.name).sort()).toEqual([`${FULLNAME}-minio`, `${FULLNAME}-postgresql`]);
    for (const d of on) {
      expect((d as unknown as { spec: unknown }).spec).toMatchObject({
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: {},
                podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'mlcycle' } },
              },
            ],
          },
        ],
      });
      await dryRun(d);
    }
    const off = await render(['--set', 'networkPolicy.enabled=false']);
    expect(off.filter((d) => d.kind === 'NetworkPolicy')).toEqual([]);
    const operator = off.find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const env = operator.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'MLCYCLE_SERVING_NETWORK_POLICY')?.value).toBe('false');
  });

  it('writes a percent-encoded database URL that pg reads back to the password given', async () => {
    const password = 'p@ss wo:rd/+%?#';
    const docs = await render(['--set-string', `postgresql.password=${password}`]);
    const secret = docs.find(
      (d) => d.kind === 'Secret' && d.metadata.name === `${FULLNAME}-database`,
    ) as unknown as {
      data: Record<string, string>;
    };
    const url = Buffer.from(secret.data.MLCYCLE_DATABASE_URL!, 'base64').toString();
    expect(url).toBe(
      `postgres://mlcycle:p%40ss%20wo%3Ard%2F%2B%25%3F%23@${FULLNAME}-postgresql.${ns}.svc:5432/mlcycle`,
    );
    // As the pg Pool reads it (through pg-connection-string, which decodes each part).
    const read = new pg.Client({ connectionString: url });
    expect({ user: read.user, password: read.password, host: read.host, database: read.database }).toEqual({
      user: 'mlcycle',
      password,
      host: `${FULLNAME}-postgresql.${ns}.svc`,
      database: 'mlcycle',
    });
    expect(Buffer.from(secret.data.POSTGRES_PASSWORD!, 'base64').toString()).toBe(password);
  });

  it('mounts the TLS CAs into the operator and the API server accepts it', async () => {
    const docs = await render([
      ...['--set', 'postgresql.external.enabled=true', '--set', 'postgresql.external.existingSecret=pg'],
      ...['--set', 'postgresql.tls.sslmode=verify-full', '--set', 'postgresql.tls.caSecret=pg-ca'],
      ...['--set', 'minio.external.enabled=true', '--set', 'minio.external.endpoint=https://s3.example:9000'],
      ...['--set', 'minio.external.existingSecret=s3', '--set', 'minio.external.tls.caConfigMap=s3-ca'],
    ]);
    const operator = docs.find((d) => d.kind === 'Deployment')!;
    const text = JSON.stringify(operator);
    for (const expected of [
      '{"name":"MLCYCLE_DB_SSLMODE","value":"verify-full"}',
      '{"name":"MLCYCLE_DB_SSL_CA","value":"/etc/mlcycle/tls/postgresql/ca.crt"}',
      '{"name":"MLCYCLE_S3_CA","value":"/etc/mlcycle/tls/s3/ca.crt"}',
      '"secret":{"secretName":"pg-ca"',
      '"configMap":{"name":"s3-ca"',
    ])
      expect(text).toContain(expected);
    await dryRun(operator);
  });

  it('limits the operator to its own Secret, ServiceAccount, RoleBinding and Lease by name', async () => {
    const docs = (await render([])).filter((d) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind),
    );
    for (const d of docs) {
      const r = await kubectlRun(['apply', '-n', ns, '-f', '-'], JSON.stringify(d));
      expect(r.status, `${d.kind}/${d.metadata.name}: ${r.stderr}`).toBe(0);
      if (d.kind === 'ClusterRole')
        clusterScoped.push(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${d.metadata.name}`);
      if (d.kind === 'ClusterRoleBinding')
        clusterScoped.push(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${d.metadata.name}`);
    }
    const as = `system:serviceaccount:${ns}:${FULLNAME}-operator`;
    const canI = async (args: string[]) => {
      const r = await kubectlRun(['auth', 'can-i', ...args, `--as=${as}`]);
      return r.stdout.trim();
    };
    const table: [string[], 'yes' | 'no'][] = [
      [['get', 'secrets/mlcycle-workload', '-n', 'team-a'], 'yes'],
      [['patch', 'secrets/mlcycle-workload', '-n', 'team-a'], 'yes'],
      [['create', 'secrets', '-n', 'team-a'], 'yes'],
      [['get', 'secrets/someone-elses', '-n', 'team-a'], 'no'],
      [['patch', 'secrets/someone-elses', '-n', 'team-a'], 'no'],
      [['list', 'secrets', '-n', 'team-a'], 'no'],
      [['delete', 'secrets/mlcycle-workload', '-n', 'team-a'], 'no'],
      [['get', 'serviceaccounts/mlcycle-drift', '-n', 'team-a'], 'yes'],
      [['patch', 'serviceaccounts/default', '-n', 'team-a'], 'no'],
      [['patch', 'rolebindings.rbac.authorization.k8s.io/mlcycle-drift', '-n', 'team-a'], 'yes'],
      [['patch', 'rolebindings.rbac.authorization.k8s.io/admin', '-n', 'team-a'], 'no'],
      [['get', `leases.coordination.k8s.io/${FULLNAME}-operator`, '-n', ns], 'yes'],
      [['update', `leases.coordination.k8s.io/${FULLNAME}-operator`, '-n', ns], 'yes'],
      [['create', 'leases.coordination.k8s.io', '-n', ns], 'yes'],
      [['update', 'leases.coordination.k8s.io/another-lease', '-n', ns], 'no'],
      [['get', `leases.coordination.k8s.io/${FULLNAME}-operator`, '-n', 'team-a'], 'no'],
      [['patch', 'poddisruptionbudgets.policy/md', '-n', 'team-a'], 'yes'],
      [['patch', 'networkpolicies.networking.k8s.io/md', '-n', 'team-a'], 'yes'],
      [['delete', 'networkpolicies.networking.k8s.io/md', '-n', 'team-a'], 'no'],
    ];
    const answers = [];
    for (const [args] of table) answers.push([args.join(' '), await canI(args)]);
    expect(answers).toEqual(table.map(([args, want]) => [args.join(' '), want]));
  });
});
