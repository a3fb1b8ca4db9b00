/** What the operator needs to know to build the Pods of its children. */
export interface WorkloadConfig {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Artifacts go under `<artifactRoot>/models/<model>/<version>/`, drift reports under `<artifactRoot>/drift/`. */
  artifactRoot: string;
  /**
   * Per-namespace Secret (maintained by the operator) whose keys are the MLCYCLE_* variables the
   * workloads need: MLCYCLE_DATABASE_URL, MLCYCLE_S3_ENDPOINT, MLCYCLE_S3_ACCESS_KEY, …
   */
  workloadSecret: string;
  /** Its content, copied into every namespace holding mlcycle resources. */
  workloadEnv: Record<string, string>;
  /** ServiceAccount (per namespace) of the drift Jobs, bound to `driftReporterClusterRole`. */
  driftServiceAccount: string;
  driftReporterClusterRole: string;
}
