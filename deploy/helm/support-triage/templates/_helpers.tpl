{{/*
Names, labels and pieces shared by the triage and router workloads.
*/}}

{{- define "support-triage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "support-triage.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "support-triage.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "support-triage.labels" -}}
helm.sh/chart: {{ include "support-triage.chart" . }}
app.kubernetes.io/name: {{ include "support-triage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: support-triage
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "triage"). */}}
{{- define "support-triage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "support-triage.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Full labels of one component: (dict "root" $ "component" "triage"). */}}
{{- define "support-triage.componentLabels" -}}
{{ include "support-triage.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Name of one component's objects: (dict "root" $ "component" "triage"). */}}
{{- define "support-triage.componentName" -}}
{{- printf "%s-%s" (include "support-triage.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "support-triage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "support-triage.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "support-triage.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "support-triage.catalogueConfigMap" -}}
{{- default (printf "%s-catalogue" (include "support-triage.fullname" .)) .Values.catalogue.existingConfigMap }}
{{- end }}

{{- define "support-triage.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "support-triage.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{/* Whether a routing policy is mounted (a ConfigMap given or content set). */}}
{{- define "support-triage.hasPolicy" -}}
{{- if or .Values.policy.existingConfigMap .Values.policy.content }}true{{ end }}
{{- end }}

{{/* Environment shared by both services (settings read by pydantic-settings). */}}
{{- define "support-triage.commonEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_ENABLE_IDEMPOTENCE
  value: {{ .Values.kafka.enableIdempotence | toString | quote }}
- name: CATALOGUE_PATH
  value: {{ .Values.catalogue.mountPath | quote }}
{{- with .Values.catalogue.serviceDeliveryGroup }}
- name: SERVICE_DELIVERY_GROUP
  value: {{ . | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
{{- end }}

{{/* envFrom: the shared Secret, then the component's own (later keys win). */}}
{{- define "support-triage.envFrom" -}}
{{- if .root.Values.existingSecret }}
- secretRef:
    name: {{ .root.Values.existingSecret }}
{{- end }}
{{- if .cfg.existingSecret }}
- secretRef:
    name: {{ .cfg.existingSecret }}
{{- end }}
{{- end }}

{{/* Plain env map of a component, sorted for stable output. */}}
{{- define "support-triage.extraEnv" -}}
{{- range $name, $value := .cfg.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .cfg.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes against /healthz (liveness, startup) and /readyz (readiness). */}}
{{- define "support-triage.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ .cfg.probes.startup.periodSeconds }}
  timeoutSeconds: {{ .cfg.probes.startup.timeoutSeconds }}
  failureThreshold: {{ .cfg.probes.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  initialDelaySeconds: {{ .cfg.probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .cfg.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .cfg.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .cfg.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  initialDelaySeconds: {{ .cfg.probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .cfg.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .cfg.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .cfg.probes.readiness.failureThreshold }}
{{- end }}

{{/* Pod-level settings shared by deployments and migration jobs. */}}
{{- define "support-triage.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
