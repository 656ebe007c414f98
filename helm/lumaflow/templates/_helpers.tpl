{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "lumaflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; short enough for the "-headless" suffix. */}}
{{- define "lumaflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lumaflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lumaflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lumaflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lumaflow.labels" -}}
helm.sh/chart: {{ include "lumaflow.chart" . }}
{{ include "lumaflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lumaflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lumaflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lumaflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the clients' token: the user's, or the one this chart creates. */}}
{{- define "lumaflow.authSecret" -}}
{{- default (printf "%s-token" (include "lumaflow.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Where Triton reads the model repository. */}}
{{- define "lumaflow.modelRepository" -}}
{{- $source := .Values.modelRepository.source }}
{{- if eq $source "pvc" }}
{{- "/models" }}
{{- else if eq $source "s3" }}
{{- if not (hasPrefix "s3://" .Values.modelRepository.url) }}
{{- fail "modelRepository.url must start with s3:// when modelRepository.source is s3" }}
{{- end }}
{{- .Values.modelRepository.url }}
{{- else if eq $source "gcs" }}
{{- if not (hasPrefix "gs://" .Values.modelRepository.url) }}
{{- fail "modelRepository.url must start with gs:// when modelRepository.source is gcs" }}
{{- end }}
{{- .Values.modelRepository.url }}
{{- else }}
{{- fail "modelRepository.source must be s3, gcs or pvc" }}
{{- end }}
{{- end }}

{{/* The prometheus-adapter series selector for this release's pods (ServiceMonitor labels). */}}
{{- define "lumaflow.metricsSelector" -}}
namespace="{{ .Release.Namespace }}",service="{{ include "lumaflow.fullname" . }}"
{{- end }}
