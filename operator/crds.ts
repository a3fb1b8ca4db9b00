import yaml from 'js-yaml';
import { z } from 'zod';
import { GROUP, type ResourceKind, resourceKinds, VERSION } from '../core/resources/index.js';

/**
 * Turns the zod types of core/resources into CustomResourceDefinitions. zod's OpenAPI 3.0
 * output is close to what Kubernetes wants; the differences are fixed here: Kubernetes
 * schemas must be structural (every node typed, no $ref, no `const`, anyOf only for
 * int-or-string), must not carry JSON-Schema bookkeeping, and every field gets a
 * description (the generator refuses a field without one).
 */

type Json = Record<string, unknown>;

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Kubernetes-compatible OpenAPI v3 schema of one zod type (input side: what users write). */
export function structuralSchema(schema: z.ZodType, path: string): Json {
  const raw = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
  }) as Json;
  return clean(raw, path);
}

function clean(node: Json, path: string): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'id' || key === '$id') continue;
    if (key === '$ref' || key === '$defs' || key === 'definitions') {
      throw new Error(`${path}: recursive or shared schema ($ref) cannot be expressed in a CRD`);
    }
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'maximum' && value === SAFE_INT) || (key === 'minimum' && value === -SAFE_INT)) continue;
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    out[key] = value;
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    // zod describes it as anyOf[string, number]; Kubernetes wants only the marker.
    return pick(out, ['description', 'x-kubernetes-int-or-string', 'maxLength', 'x-kubernetes-validations']);
  }
  if (out.anyOf || out.oneOf || out.allOf || out.not) {
    throw new Error(`${path}: unions are not structural; model it as one object with optional fields`);
  }
  if (out.type === undefined) throw new Error(`${path}: schema has no type`);
  if (out.properties) {
    const props: Json = {};
    for (const [name, child] of Object.entries(out.properties as Json)) {
      const childPath = `${path}.${name}`;
      const c = clean(child as Json, childPath);
      if (typeof c.description !== 'string' || c.description.length === 0) {
        throw new Error(`${childPath}: every field needs a description (.describe()) for kubectl explain`);
      }
      props[name] = c;
    }
    out.properties = props;
  }
  if (out.items && typeof out.items === 'object') out.items = clean(out.items as Json, `${path}[]`);
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = clean(out.additionalProperties as Json, `${path}{}`);
  }
  if (out.propertyNames) delete out.propertyNames; // record keys: not expressible; map keys stay free
  return out;
}

function pick(node: Json, keys: string[]): Json {
  const out: Json = {};
  for (const k of keys) if (node[k] !== undefined) out[k] = node[k];
  return out;
}

/** The CustomResourceDefinition of one kind, as a plain object. */
export function buildCrd(kind: ResourceKind): Json {
  const spec = structuralSchema(kind.spec, `${kind.kind}.spec`);
  const status = structuralSchema(kind.status, `${kind.kind}.status`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${kind.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'mlcycle' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular: kind.singular,
        shortNames: kind.shortNames,
        categories: ['mlcycle'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: kind.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: kind.description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion of this object: mlcycle.dev/v1alpha1.',
                },
                kind: { type: 'string', description: `Kind of this object: ${kind.kind}.` },
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

const HEADER =
  '# Generated from core/resources by operator/crd-gen.ts — do not edit by hand.\n' +
  '# Regenerate: npm run build && node dist/operator/crd-gen.js\n';

/** File name → YAML text for every CRD. */
export function renderCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const kind of resourceKinds) {
    files.set(
      `${GROUP}_${kind.plural}.yaml`,
      HEADER + yaml.dump(buildCrd(kind), { lineWidth: 110, noRefs: true }),
    );
  }
  return files;
}
