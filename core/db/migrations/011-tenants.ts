import type { Migration } from '../migrate.js';

/**
 * Tenants and immutable versions.
 *
 * Every row of the registry, the prediction log, the labels and the drift runs gets the
 * namespace (the tenant) it belongs to, and every key leads with it: the same model name in two
 * namespaces is two models. Rows written before are the `default` namespace's. The column has
 * no default afterwards, so a write that forgets its namespace fails instead of landing in
 * someone else's.
 *
 * Row-level security: a tenant's own PostgreSQL role (core/tenant-roles.ts, created by the
 * operator with the admin credentials) sees and writes only rows of its namespace. Its
 * namespace comes from `tenant_roles` by the role it logged in as, never from anything the
 * session can set. The tables' owner (the admin, who runs the migrations) is not bound by
 * the policies.
 *
 * Registered and rejected versions are final: a trigger refuses to update or delete them or
 * their artifact digests, whatever the path (a bug, a manual UPDATE, a tenant role).
 */
export const tenants: Migration = {
  id: 11,
  name: 'tenants',
  sql: `
-- Keys lose their old form first (foreign keys before the keys they point at).
ALTER TABLE model_version_params DROP CONSTRAINT model_version_params_model_name_version_fkey;
ALTER TABLE model_version_metrics DROP CONSTRAINT model_version_metrics_model_name_version_fkey;
ALTER TABLE model_version_tags DROP CONSTRAINT model_version_tags_model_name_version_fkey;
ALTER TABLE model_version_artifacts DROP CONSTRAINT model_version_artifacts_model_name_version_fkey;
ALTER TABLE model_aliases DROP CONSTRAINT model_aliases_model_name_version_fkey;
ALTER TABLE model_versions DROP CONSTRAINT model_versions_model_name_fkey;

ALTER TABLE models ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_versions ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_version_params ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_version_metrics ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_version_tags ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_version_artifacts ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE model_aliases ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE lifecycle_events ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE prediction_logs ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE prediction_labels ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE prediction_label_history ADD COLUMN namespace text NOT NULL DEFAULT 'default';
ALTER TABLE drift_runs ADD COLUMN namespace text NOT NULL DEFAULT 'default';

ALTER TABLE models DROP CONSTRAINT models_pkey, ADD PRIMARY KEY (namespace, name);
ALTER TABLE model_versions DROP CONSTRAINT model_versions_pkey,
  ADD PRIMARY KEY (namespace, model_name, version),
  ADD FOREIGN KEY (namespace, model_name) REFERENCES models (namespace, name);
ALTER TABLE model_version_params DROP CONSTRAINT model_version_params_pkey,
  ADD PRIMARY KEY (namespace, model_name, version, key),
  ADD FOREIGN KEY (namespace, model_name, version) REFERENCES model_versions (namespace, model_name, version) ON DELETE CASCADE;
ALTER TABLE model_version_metrics DROP CONSTRAINT model_version_metrics_pkey,
  ADD PRIMARY KEY (namespace, model_name, version, split, name),
  ADD FOREIGN KEY (namespace, model_name, version) REFERENCES model_versions (namespace, model_name, version) ON DELETE CASCADE;
ALTER TABLE model_version_tags DROP CONSTRAINT model_version_tags_pkey,
  ADD PRIMARY KEY (namespace, model_name, version, key),
  ADD FOREIGN KEY (namespace, model_name, version) REFERENCES model_versions (namespace, model_name, version) ON DELETE CASCADE;
ALTER TABLE model_version_artifacts DROP CONSTRAINT model_version_artifacts_pkey,
  ADD PRIMARY KEY (namespace, model_name, version, name),
  ADD FOREIGN KEY (namespace, model_name, version) REFERENCES model_versions (namespace, model_name, version) ON DELETE CASCADE;
ALTER TABLE model_aliases DROP CONSTRAINT model_aliases_pkey,
  ADD PRIMARY KEY (namespace, model_name, alias),
  ADD FOREIGN KEY (namespace, model_name, version) REFERENCES model_versions (namespace, model_name, version);

DROP INDEX lifecycle_events_model_at;
CREATE INDEX lifecycle_events_model_at ON lifecycle_events (namespace, model_name, at);

-- Keys as migration 010 left them (server-generated prediction ids), led by the namespace.
ALTER TABLE prediction_logs DROP CONSTRAINT prediction_logs_prediction_key,
  ADD CONSTRAINT prediction_logs_prediction_key UNIQUE (namespace, model_name, model_version, prediction_id);
DROP INDEX prediction_logs_window;
CREATE INDEX prediction_logs_window ON prediction_logs (namespace, model_name, model_version, created_at);
DROP INDEX prediction_logs_request;
CREATE INDEX prediction_logs_request ON prediction_logs (namespace, model_name, request_id);
DROP INDEX prediction_logs_prediction;
CREATE INDEX prediction_logs_prediction ON prediction_logs (namespace, model_name, prediction_id);
ALTER TABLE prediction_labels DROP CONSTRAINT prediction_labels_pkey,
  ADD PRIMARY KEY (namespace, model_name, prediction_id);
DROP INDEX prediction_label_history_prediction;
CREATE INDEX prediction_label_history_prediction ON prediction_label_history (namespace, model_name, prediction_id);

-- A run id is its Job's name, unique within a namespace only.
ALTER TABLE drift_runs DROP CONSTRAINT drift_runs_pkey, ADD PRIMARY KEY (namespace, id);
DROP INDEX drift_runs_monitor_finished;
CREATE INDEX drift_runs_monitor_finished ON drift_runs (namespace, monitor, finished_at);
DROP INDEX drift_runs_monitor_alert;
CREATE INDEX drift_runs_monitor_alert ON drift_runs (namespace, monitor, finished_at) WHERE alert_status IS NOT NULL;

ALTER TABLE models ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_versions ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_version_params ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_version_metrics ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_version_tags ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_version_artifacts ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE model_aliases ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE lifecycle_events ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE prediction_logs ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE prediction_labels ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE prediction_label_history ALTER COLUMN namespace DROP DEFAULT;
ALTER TABLE drift_runs ALTER COLUMN namespace DROP DEFAULT;

-- Which namespace each tenant role may see. A role reads only its own mapping.
CREATE TABLE tenant_roles (
  role_name  text PRIMARY KEY,
  namespace  text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mapping ON tenant_roles USING (role_name = current_user);

CREATE FUNCTION mlcycle_tenant() RETURNS text LANGUAGE sql STABLE
  AS 'SELECT namespace FROM tenant_roles WHERE role_name = current_user';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['models', 'model_versions', 'model_version_params', 'model_version_metrics',
    'model_version_tags', 'model_version_artifacts', 'model_aliases', 'lifecycle_events',
    'prediction_logs', 'prediction_labels', 'prediction_label_history', 'drift_runs']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_rows ON %I USING (namespace = mlcycle_tenant()) WITH CHECK (namespace = mlcycle_tenant())', t);
  END LOOP;
END $$;

-- A registered or rejected version is final.
CREATE FUNCTION mlcycle_refuse_final_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'model version %/%/% is %: a registered or rejected version never changes; register a new version',
    OLD.namespace, OLD.model_name, OLD.version, OLD.status
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER final_versions_are_immutable BEFORE UPDATE OR DELETE ON model_versions
  FOR EACH ROW WHEN (OLD.status IN ('registered', 'rejected'))
  EXECUTE FUNCTION mlcycle_refuse_final_version_change();

CREATE FUNCTION mlcycle_refuse_final_artifact_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  SELECT status INTO s FROM model_versions
   WHERE namespace = OLD.namespace AND model_name = OLD.model_name AND version = OLD.version;
  IF s IN ('registered', 'rejected') THEN
    RAISE EXCEPTION 'the artifacts of model version %/%/% (%) never change', OLD.namespace, OLD.model_name, OLD.version, s
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER final_artifacts_are_immutable BEFORE UPDATE OR DELETE ON model_version_artifacts
  FOR EACH ROW EXECUTE FUNCTION mlcycle_refuse_final_artifact_change();
`,
};
