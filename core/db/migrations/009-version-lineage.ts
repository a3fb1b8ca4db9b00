import type { Migration } from '../migrate.js';

/**
 * Where a version's training data came from (a dataset, or a deployment's labelled production
 * window) and why it was trained (the retraining that asked for it), as one JSON document:
 * core/registry.ts VersionLineage is its schema. Null for versions trained before.
 */
export const versionLineage: Migration = {
  id: 9,
  name: 'version-lineage',
  sql: `
ALTER TABLE model_versions ADD COLUMN lineage jsonb;
`,
};
