/** What the operator needs to know to build the Pods of its children. */
export interface WorkloadConfig {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * Everything of a namespace lies under `<artifactRoot>/namespaces/<namespace>/`: artifacts in
   * `models/<model>/<version>/`, drift reports in `drift/<monitor>/`, the log spill.
   */
  artifactRoot: string;
  /**
   * Per-namespace Secret (maintained by the operator) whose keys are the MLCYCLE_* variables the
   * workloads need: MLCYCLE_DATABASE_URL, MLCYCLE_S3_ENDPOINT, MLCYCLE_S3_ACCESS_KEY, …
   */
  workloadSecret: string;
  /**
   * The workloads' settings with the operator's own (admin) credentials: what each namespace
   * gets, with its own credentials in their place (operator/tenant-credentials.ts).
   */
  workloadEnv: Record<string, string>;
  /** ServiceAccount (per namespace) of the drift Jobs, bound to `driftReporterClusterRole`. */
  driftServiceAccount: string;
  driftReporterClusterRole: string;
  /**
   * When set, every ModelDeployment gets a NetworkPolicy (owned by it) allowing ingress to its
   * inference Pods only on the serving port, from these peers (NetworkPolicyPeer objects);
   * empty: from any Pod of the cluster.
   */
  servingNetworkPolicy?: { from: Record<string, unknown>[] } | undefined;
}
