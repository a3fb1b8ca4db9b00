import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../core/kube/client.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  helmRun,
  installCrds,
  kubectlRun,
  waitForApi,
} from './operator-kit.js';

/** The Helm chart: lint clean, and every object it renders accepted by the real API server. */

const CHART = 'helm/mlcycle';

const EXTERNAL = [
  '--set',
  'postgresql.external.enabled=true',
  '--set',
  'postgresql.external.url=postgres://mlcycle:mlcycle@postgres.mlcycle-system.svc:5432/mlcycle',
  '--set',
  'minio.external.enabled=true',
  '--set',
  'minio.external.endpoint=http://minio.mlcycle-system.svc:9000',
  '--set',
  'minio.external.accessKey=mlcycle',
  '--set',
  'minio.external.secretKey=mlcycle-secret',
];

async function run(args: string[]): Promise<{ status: number; out: string }> {
  const r = await helmRun(args);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let c: KubeClient;
let ns: string;

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-helm');
});

afterAll(async () => {
  if (ns) await deleteNamespace(c, ns);
});

describe('helm/mlcycle', () => {
  for (const [label, extra] of [
    ['in-cluster PostgreSQL and MinIO', []],
    ['external PostgreSQL and MinIO', EXTERNAL],
    ['one watched namespace', [...EXTERNAL, '--set', 'operator.watchNamespace=team-a']],
  ] as const) {
    it(`lints clean and renders objects the API server accepts (${label})`, async () => {
      const lint = await run(['lint', '--strict', CHART, ...extra]);
      expect(lint.out).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(lint.status, lint.out).toBe(0);
      const rendered = await run([
        'template',
        'mlcycle',
        CHART,
        '--namespace',
        ns,
        '--include-crds',
        ...extra,
      ]);
      expect(rendered.status, rendered.out).toBe(0);
      const docs = yaml.loadAll(rendered.out).filter(Boolean) as {
        kind: string;
        metadata: { name: string };
      }[];
      const kinds = new Set(docs.map((d) => d.kind));
      expect(kinds).toContain('CustomResourceDefinition');
      expect(kinds).toContain('Deployment');
      expect(kinds.has('StatefulSet')).toBe(label.startsWith('in-cluster'));
      for (const d of docs) {
        // The watched namespace need not exist for a dry run of the rest; its Role is checked in ns.
        const obj =
          d.kind === 'Role' || d.kind === 'RoleBinding'
            ? { ...d, metadata: { ...d.metadata, namespace: ns } }
            : d;
        const r = await kubectlRun(['apply', '--dry-run=server', '-n', ns, '-f', '-'], JSON.stringify(obj));
        expect(r.status, `${d.kind}/${d.metadata.name}: ${r.stderr}`).toBe(0);
      }
    });
  }

  it('runs every container non-root with a read-only root filesystem and no privilege escalation', async () => {
    const rendered = await run(['template', 'mlcycle', CHART, '--namespace', ns]);
    const docs = yaml.loadAll(rendered.out).filter(Boolean) as {
      kind: string;
      spec?: {
        template?: {
          spec: {
            securityContext?: { runAsNonRoot?: boolean };
            containers: { securityContext?: Record<string, unknown> }[];
          };
        };
      };
    }[];
    const pods = docs.filter((d) => d.spec?.template);
    expect(pods.length).toBe(3); // operator, PostgreSQL, MinIO
    for (const d of pods) {
      const spec = d.spec?.template?.spec;
      expect(spec?.securityContext?.runAsNonRoot).toBe(true);
      for (const ctr of spec?.containers ?? []) {
        expect(ctr.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
      }
    }
  });

  it('grants no cluster-admin and no wildcard', async () => {
    const rendered = await run(['template', 'mlcycle', CHART, '--namespace', ns]);
    const docs = yaml.loadAll(rendered.out).filter(Boolean) as {
      kind: string;
      roleRef?: { name: string };
      rules?: { verbs: string[]; resources: string[] }[];
    }[];
    for (const d of docs) {
      expect(d.roleRef?.name).not.toBe('cluster-admin');
      for (const r of d.rules ?? []) {
        expect(r.verbs).not.toContain('*');
        expect(r.resources).not.toContain('*');
      }
    }
  });

  it('fails with a clear message when external PostgreSQL is asked for without a URL', async () => {
    const r = await run(['template', 'mlcycle', CHART, '--set', 'postgresql.external.enabled=true']);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('postgresql.external.url (or existingSecret) is required');
  });
});
