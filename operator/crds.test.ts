import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ModelVersionSpec, resourceKinds } from '../core/resources/index.js';
import { staleCrdFiles } from './crd-gen.js';
import { buildCrd, structuralSchema } from './crds.js';

describe('generated CRDs', () => {
  it('crds/*.yaml and helm/mlcycle/crds/*.yaml match the zod types (regenerate: npm run build && node dist/operator/crd-gen.js)', () => {
    expect(staleCrdFiles()).toEqual([]);
  });

  it('are structural: every node typed, no $ref, no unions, every field described', () => {
    for (const kind of resourceKinds) {
      const crd = buildCrd(kind) as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
      const text = JSON.stringify(crd);
      expect(text).not.toContain('$ref');
      expect(text).not.toContain('$schema');
      expect(text).not.toContain('"anyOf"');
      expect(text).not.toContain('"additionalProperties":false');
    }
  });

  it('refuses a field without a description', () => {
    expect(() => structuralSchema(z.object({ a: z.string() }), 'X')).toThrow(
      /X\.a: every field needs a description/,
    );
  });

  it('refuses a union that is not int-or-string', () => {
    expect(() =>
      structuralSchema(z.object({ a: z.union([z.string(), z.boolean()]).describe('a') }), 'X'),
    ).toThrow(/unions are not structural/);
  });

  it('carries CEL rules and immutability into the schema', () => {
    const s = JSON.stringify(structuralSchema(ModelVersionSpec, 'ModelVersion.spec'));
    expect(s).toContain('self == oldSelf');
    expect(s).toContain('gate.maxRmse applies to regression');
  });
});
