import type { Migration } from '../migrate.js';

/**
 * The model registry: every version with its parameters, metrics, tags, artifacts and gate
 * outcome; aliases (champion, …) with their history in lifecycle_events, so who served what
 * and why can always be reconstructed.
 */
export const registry: Migration = {
  id: 1,
  name: 'registry',
  sql: `
CREATE TABLE models (
  name        text PRIMARY KEY,
  task        text NOT NULL CHECK (task IN ('binary-classification', 'regression')),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  model_name     text NOT NULL REFERENCES models (name),
  version        text NOT NULL,
  status         text NOT NULL CHECK (status IN ('training', 'registered', 'rejected', 'failed')),
  deployable     boolean NOT NULL DEFAULT false,
  gate_passed    boolean,
  gate_reasons   jsonb NOT NULL DEFAULT '[]',
  schema_digest  text,
  dataset_uri    text,
  dataset_digest text,
  artifact_root  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, version),
  CHECK (NOT deployable OR status = 'registered')
);

CREATE TABLE model_version_params (
  model_name text NOT NULL,
  version    text NOT NULL,
  key        text NOT NULL,
  value      jsonb NOT NULL,
  PRIMARY KEY (model_name, version, key),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version) ON DELETE CASCADE
);

CREATE TABLE model_version_metrics (
  model_name text NOT NULL,
  version    text NOT NULL,
  split      text NOT NULL,
  name       text NOT NULL,
  value      double precision NOT NULL,
  PRIMARY KEY (model_name, version, split, name),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version) ON DELETE CASCADE
);

CREATE TABLE model_version_tags (
  model_name text NOT NULL,
  version    text NOT NULL,
  key        text NOT NULL,
  value      text NOT NULL,
  PRIMARY KEY (model_name, version, key),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version) ON DELETE CASCADE
);

CREATE TABLE model_version_artifacts (
  model_name text NOT NULL,
  version    text NOT NULL,
  name       text NOT NULL,
  uri        text NOT NULL,
  sha256     text NOT NULL,
  size_bytes bigint NOT NULL,
  PRIMARY KEY (model_name, version, name),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version) ON DELETE CASCADE
);

CREATE TABLE model_aliases (
  model_name text NOT NULL,
  alias      text NOT NULL,
  version    text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, alias),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

CREATE TABLE lifecycle_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  model_name text NOT NULL,
  version    text,
  kind       text NOT NULL,
  detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX lifecycle_events_model_at ON lifecycle_events (model_name, at);
`,
};
