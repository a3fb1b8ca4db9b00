{{/* Names and labels shared by the templates. */}}
{{- define "mlcycle.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mlcycle.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlcycle
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "mlcycle.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "mlcycle.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "mlcycle.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Secret holding MLCYCLE_DATABASE_URL, and its key. */}}
{{- define "mlcycle.dbSecret" -}}
{{- if and .Values.postgresql.external.enabled .Values.postgresql.external.existingSecret -}}
{{ .Values.postgresql.external.existingSecret }}
{{- else -}}
{{ include "mlcycle.fullname" . }}-database
{{- end -}}
{{- end -}}
{{- define "mlcycle.dbSecretKey" -}}
{{- if and .Values.postgresql.external.enabled .Values.postgresql.external.existingSecret -}}
{{ .Values.postgresql.external.existingSecretKey }}
{{- else -}}
MLCYCLE_DATABASE_URL
{{- end -}}
{{- end -}}

{{- define "mlcycle.s3Secret" -}}
{{- if and .Values.minio.external.enabled .Values.minio.external.existingSecret -}}
{{ .Values.minio.external.existingSecret }}
{{- else -}}
{{ include "mlcycle.fullname" . }}-s3
{{- end -}}
{{- end -}}

{{- define "mlcycle.s3Endpoint" -}}
{{- if .Values.minio.external.enabled -}}
{{ required "minio.external.endpoint is required when minio.external.enabled" .Values.minio.external.endpoint }}
{{- else -}}
http://{{ include "mlcycle.fullname" . }}-minio.{{ .Release.Namespace }}.svc:9000
{{- end -}}
{{- end -}}

{{- define "mlcycle.s3Region" -}}
{{- if .Values.minio.external.enabled -}}{{ .Values.minio.external.region }}{{- else -}}{{ .Values.minio.region }}{{- end -}}
{{- end -}}

{{/* A password kept across upgrades: the value, else the one already in the Secret, else a new one. */}}
{{- define "mlcycle.persistedSecret" -}}
{{- $given := index . 0 -}}{{- $secret := index . 1 -}}{{- $key := index . 2 -}}{{- $ctx := index . 3 -}}
{{- if $given -}}
{{ $given }}
{{- else -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $secret -}}
{{- if and $existing (index $existing.data $key) -}}
{{ index $existing.data $key | b64dec }}
{{- else -}}
{{ randAlphaNum 24 }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Names of the per-namespace objects the operator maintains (its RBAC is limited to them). */}}
{{- define "mlcycle.workloadSecret" -}}mlcycle-workload{{- end -}}
{{- define "mlcycle.driftServiceAccount" -}}mlcycle-drift{{- end -}}
