import { z } from 'zod';
import {
  Conditions,
  type CustomObject,
  Duration,
  immutable,
  ObjectName,
  ObservedGeneration,
  Timestamp,
  withRules,
} from './common.js';

/** One cron field: `*` or values and ranges, each with an optional step, comma-separated. */
const cronField = (value: string): string => {
  const item = `([*]|(${value})(-(${value}))?)(/[1-9][0-9]?)?`;
  return `${item}(,${item})*`;
};
const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec';
const DAYS = 'sun|mon|tue|wed|thu|fri|sat';

/**
 * A 5-field cron schedule (minute 0–59, hour 0–23, day of month 1–31 or ?, month 1–12 or
 * JAN–DEC, day of week 0–6 or SUN–SAT), or an @-shortcut, as a CronJob takes it — each field's
 * range checked, so `61 * * * *` or `TZ=… 0 * * * *` is refused at admission. What a pattern
 * cannot see (a range that runs backwards, `30-10`) the CronJob refuses; the operator then sets
 * Ready=False, reason CronJobRejected, and an Event.
 */
export const CRON_PATTERN = [
  '^(@(yearly|annually|monthly|weekly|daily|hourly)',
  `|(${cronField('[0-5]?[0-9]')})`,
  ` +(${cronField('[01]?[0-9]|2[0-3]')})`,
  ` +(${cronField('0?[1-9]|[12][0-9]|3[01]')}|[?])`,
  ` +(${cronField(`0?[1-9]|1[0-2]|${MONTHS}|${MONTHS.toUpperCase()}`)})`,
  ` +(${cronField(`[0-6]|${DAYS}|${DAYS.toUpperCase()}`)}|[?]))$`,
].join('');
const CRON = new RegExp(CRON_PATTERN);
const CRON_MESSAGE =
  'spec.schedule must be a cron schedule: five fields separated by spaces (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT; each *, a value, a range a-b, a list a,b or a step */n), or @hourly, @daily, @weekly, @monthly, @yearly';

/** A Secret key that holds a credential (the Secret in the DriftMonitor's namespace). */
const SecretKeyRef = z
  .object({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Secret name: lower-case letters, digits, dashes and dots')
      .describe('Name of the Secret, in the DriftMonitor namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/, 'a Secret key: letters, digits, dashes, dots and underscores')
      .describe('Key in the Secret whose value is the webhook URL.'),
  })
  .describe('A key of a Secret in the same namespace.');

/** The metrics estimated before labels arrive (CBPE, drift-job/stats/cbpe.ts). */
export const EstimateMetric = z.enum(['roc_auc', 'accuracy', 'precision', 'recall', 'f1']);

export const DriftMethod = z.enum(['auto', 'ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi']);

export const DriftMonitorSpec = z
  .object({
    deployment: immutable(ObjectName, 'spec.deployment').describe(
      'Name of the ModelDeployment (same namespace) whose prediction logs are monitored.',
    ),
    schedule: withRules(
      z
        .string()
        .min(1)
        .max(100)
        .refine((v) => CRON.test(v), CRON_MESSAGE),
      [{ rule: `self.matches(r'${CRON_PATTERN}')`, message: CRON_MESSAGE }],
    ).describe('When to run, in cron syntax (UTC), as in a CronJob: "0 * * * *", "*/15 * * * *", @hourly.'),
    suspend: z.boolean().default(false).describe('Pause scheduled runs without deleting the monitor.'),
    window: Duration.max(12)
      .default('24h')
      .describe('How far back each run looks in the prediction logs, e.g. 24h.'),
    drift: z
      .object({
        share: z
          .number()
          .gt(0)
          .max(1)
          .default(0.5)
          .describe('Dataset drift when at least this share of the features drifted.'),
        method: DriftMethod.default('auto').describe(
          'Statistical test for every feature; auto picks per feature type and sample size as Evidently does.',
        ),
        threshold: z
          .number()
          .gt(0)
          .optional()
          .describe('Drift threshold of the chosen method (p-value for tests, distance otherwise).'),
      })
      .optional()
      .describe('How drift is decided.'),
    quality: z
      .object({
        tolerance: z
          .number()
          .min(0)
          .max(1)
          .default(0.05)
          .describe(
            'Quality is degraded when the metric on labelled logs falls by more than this from holdout.',
          ),
        minLabels: z
          .number()
          .int()
          .min(1)
          .default(100)
          .describe('No quality verdict with fewer labelled predictions than this.'),
      })
      .optional()
      .describe('How quality is judged from delayed labels (sent to /feedback).'),
    actions: z
      .object({
        alertWebhook: z
          .string()
          .max(2048)
          .regex(/^https?:\/\/\S+$/, 'an http(s) URL')
          .optional()
          .describe(
            'Webhook called when a verdict changes (Slack-compatible body), for receivers whose URL is not a secret: it is readable by anyone who can read this DriftMonitor or its CronJob. A URL that is a credential (Slack, Teams) goes in a Secret: alertWebhookSecretRef.',
          ),
        alertWebhookSecretRef: SecretKeyRef.optional().describe(
          'The Secret key holding the webhook URL (a Slack webhook URL is its credential). The drift Job reads it as an environment variable from the Secret; it never appears in the CronJob. Exclusive with alertWebhook.',
        ),
        rollbackOnQualityDegraded: z
          .boolean()
          .default(true)
          .describe('Roll the ModelDeployment back to its previous good version when quality is degraded.'),
        rollbackOnSustainedDrift: z
          .boolean()
          .default(false)
          .describe('Also roll back on sustained drift (without a quality verdict).'),
        sustainedDriftRuns: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(3)
          .describe('Consecutive drifted runs that make drift sustained.'),
      })
      .refine((a) => !(a.alertWebhook && a.alertWebhookSecretRef), {
        message: 'give spec.actions.alertWebhook or spec.actions.alertWebhookSecretRef, not both',
      })
      .meta({
        'x-kubernetes-validations': [
          {
            rule: '!(has(self.alertWebhook) && has(self.alertWebhookSecretRef))',
            message: 'give spec.actions.alertWebhook or spec.actions.alertWebhookSecretRef, not both',
          },
        ],
      })
      .optional()
      .describe('What to do about the verdicts.'),
    estimate: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Estimate quality before labels arrive (CBPE, binary classifiers); an estimate below its threshold is the EstimatedDegraded verdict, which alerts.',
          ),
        metric: EstimateMetric.default('roc_auc').describe(
          'Metric the EstimatedDegraded verdict is decided on.',
        ),
        retrainOnDegraded: z
          .boolean()
          .default(false)
          .describe(
            'Also retrain on EstimatedDegraded (once per streak, within spec.retrain cooldown and maxPerDay; needs spec.retrain).',
          ),
        rollbackOnDegraded: z
          .boolean()
          .default(false)
          .describe('Also roll back on EstimatedDegraded (by default rollback waits for realized labels).'),
        holdPromotionOnDegraded: z
          .boolean()
          .default(false)
          .describe('Do not promote a challenger whose own estimated quality is degraded.'),
      })
      .optional()
      .describe('Estimated quality before labels: what it may do beyond alerting (nothing, by default).'),
    retrain: z
      .object({
        source: z
          .enum(['Production', 'Dataset'])
          .default('Production')
          .describe(
            'Production: learn from what the deployment served, with the labels that came back (the prediction log joined with /feedback labels over `window`). Dataset: the serving version dataset, or datasetUri.',
          ),
        window: Duration.max(12)
          .optional()
          .describe('Production: how far back the labelled prediction log is read. Default 7d.'),
        datasetUri: z
          .string()
          .min(1)
          .max(2048)
          .optional()
          .describe('Dataset: train on this data instead of the serving version dataset.'),
        includeOriginalRows: z
          .number()
          .int()
          .min(100)
          .optional()
          .describe('Production: also train on this many of the most recent rows of the original dataset.'),
        rows: z.number().int().min(100).optional().describe('Rows sampled for the retraining.'),
        trials: z.number().int().min(1).max(1000).optional().describe('Search budget of the retraining.'),
        cooldown: Duration.max(12)
          .default('6h')
          .describe('No new retraining sooner than this after the last one.'),
        maxPerDay: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(3)
          .describe('At most this many retrainings in any 24 hours.'),
      })
      .optional()
      .describe(
        'Present: sustained drift creates a new ModelVersion (lineage in its status); once Registered it becomes the challenger of the ModelDeployment and is promoted on evidence (ModelDeployment spec.promotion).',
      ),
  })
  .describe('Scheduled drift and quality monitoring of one ModelDeployment.');
export type DriftMonitorSpec = z.output<typeof DriftMonitorSpec>;

export const RunVerdict = z.enum([
  'NoDrift',
  'Drift',
  'SustainedDrift',
  'QualityDegraded',
  'EstimatedDegraded',
  'InsufficientData',
  'Failed',
]);
export type RunVerdict = z.infer<typeof RunVerdict>;

export const QualityVerdict = z.enum(['Ok', 'Degraded', 'InsufficientData', 'NotEvaluated']);
export type QualityVerdict = z.infer<typeof QualityVerdict>;

/** The estimated quality of a window (CBPE, from calibrated probabilities, before labels arrive). */
export const EstimateVerdict = z.enum(['Ok', 'Degraded', 'InsufficientData', 'NotEvaluated']);
export type EstimateVerdict = z.infer<typeof EstimateVerdict>;

/** The lifecycle decision of one run: taken once, by the drift Job, on the stored history of runs. */
export const RunDecisionStatus = z
  .object({
    verdict: RunVerdict.describe('The run verdict.'),
    alert: z.boolean().describe('An alert was due (the verdict changed).'),
    retrain: z.boolean().describe('Retrain: sustained drift, within the cooldown and daily cap.'),
    rollback: z.boolean().describe('Roll back to the previous good version.'),
    promotion: z
      .object({
        challenger: z.string().describe('Registry version of the challenger compared.'),
        ready: z.boolean().describe('Enough labelled requests were scored by both to compare.'),
        promote: z.boolean().describe('The challenger won.'),
        reason: z.string().describe('The comparison, in words.'),
        metric: z.string().optional().describe('Metric compared.'),
        champion: z.number().optional().describe('Champion metric on the shared labelled requests.'),
        challengerValue: z.number().optional().describe('Challenger metric on the same requests.'),
        labelledRows: z.number().int().min(0).describe('Labelled requests scored by both.'),
      })
      .optional()
      .describe('Champion against challenger on the same labelled requests, when a challenger runs.'),
    reasons: z.array(z.string()).max(20).describe('Why, one line per decision.'),
  })
  .describe('What the lifecycle policy decided on this run; the operator carries it out.');
export type RunDecisionStatus = z.output<typeof RunDecisionStatus>;

/** What one drift run reports into the DriftMonitor status (written by the drift Job). */
export const DriftRunReport = z
  .object({
    lastRun: z
      .object({
        id: z.string().min(1).describe('Unique id of the run (the drift_runs row).'),
        time: Timestamp.describe('When the run finished.'),
        jobName: z.string().optional().describe('The Job that ran it.'),
        modelVersion: z.string().optional().describe('Registry version whose logs were evaluated.'),
        verdict: RunVerdict.describe('The run outcome decided by the lifecycle policy.'),
        reportUri: z.string().optional().describe('URI of report.html.'),
        message: z.string().optional().describe('One line on the outcome.'),
        decision: RunDecisionStatus.optional(),
      })
      .describe('The last finished run.'),
    datasetDrift: z
      .boolean()
      .optional()
      .describe('Whether the share of drifted features reached spec.drift.share.'),
    driftShare: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Share of features that drifted in the last run.'),
    driftedFeatures: z
      .array(z.string())
      .max(500)
      .optional()
      .describe('Features that drifted in the last run.'),
    predictionDrift: z.boolean().optional().describe('Whether the prediction distribution drifted.'),
    consecutiveDriftedRuns: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Drifted runs in a row, up to and including the last one.'),
    quality: z
      .object({
        verdict: QualityVerdict.describe('Ok, Degraded, InsufficientData (too few labels) or NotEvaluated.'),
        metric: z.string().optional().describe('Metric compared, e.g. roc_auc or rmse.'),
        value: z.number().optional().describe('Its value on the labelled logs of the window.'),
        reference: z.number().optional().describe('Its holdout value at registration.'),
        labelledRows: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Logged predictions with a label in the window.'),
      })
      .optional()
      .describe('Quality on delayed labels in the last run.'),
    estimate: z
      .object({
        verdict: EstimateVerdict.describe(
          'Degraded when the estimate fell below its reference threshold; Ok; InsufficientData; NotEvaluated.',
        ),
        metric: z.string().describe('Metric estimated, e.g. roc_auc.'),
        value: z.number().optional().describe('Its estimate on the whole window, from the probabilities.'),
        lower: z.number().optional().describe('Lower end of the estimate band (± 3 sampling errors).'),
        upper: z.number().optional().describe('Upper end of the estimate band.'),
        threshold: z
          .number()
          .optional()
          .describe('Lower alert threshold, from the realized metric on reference chunks.'),
        realized: z
          .number()
          .optional()
          .describe('The realized metric on the labelled logs of the window, when there are labels.'),
        rows: z.number().int().min(0).describe('Rows of the window the estimate used.'),
      })
      .optional()
      .describe(
        'Estimated quality before labels arrive (CBPE on the calibrated probabilities), binary classifiers.',
      ),
    rows: z
      .object({
        reference: z.number().int().min(0).describe('Rows of the reference sample.'),
        current: z.number().int().min(0).describe('Logged predictions in the window.'),
      })
      .optional()
      .describe('Row counts of the last run.'),
  })
  .describe('The facts of the last drift run.');
export type DriftRunReport = z.output<typeof DriftRunReport>;

export const DriftMonitorStatus = DriftRunReport.partial()
  .extend({
    observedGeneration: ObservedGeneration.optional(),
    cronJobName: z.string().optional().describe('The CronJob that runs the checks.'),
    conditions: Conditions.optional(),
    lastAction: z
      .object({
        runId: z.string().describe('The run the action answered.'),
        action: z
          .enum(['None', 'Alert', 'Rollback', 'Retrain', 'Promote', 'AwaitApproval', 'RetireChallenger'])
          .describe(
            'What the operator did: Rollback, Retrain, Promote (the challenger won), AwaitApproval (it won; approval is Manual), RetireChallenger (it lost), or None.',
          ),
        time: Timestamp.describe('When.'),
        detail: z
          .string()
          .optional()
          .describe('What exactly, e.g. rolled back from flights-v2 to flights-v1.'),
      })
      .optional()
      .describe('The operator action on the last run whose verdict asked for one.'),
    handledRunId: z
      .string()
      .optional()
      .describe('The last run the operator applied the policy to (each run is acted on once).'),
  })
  .describe('The last run facts (written by the drift Job) and the operator actions.');
export type DriftMonitorStatus = z.output<typeof DriftMonitorStatus>;

export type DriftMonitor = CustomObject<DriftMonitorSpec, DriftMonitorStatus>;
