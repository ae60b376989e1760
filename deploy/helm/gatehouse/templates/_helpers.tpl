{{/* The chart name, at most 63 characters (the Kubernetes limit for names and labels). */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: <release>-gatehouse unless the release name already says it. */}}
{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Every pod of the release (server and migration job): the NetworkPolicy selects these. */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The server pods only: the Service and the PodDisruptionBudget select these. */}}
{{- define "gatehouse.serverSelectorLabels" -}}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: by digest when given, else by tag (default appVersion, never latest). */}}
{{- define "gatehouse.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: use a pinned version, not latest" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Database settings shared by the server and the migration job. */}}
{{- define "gatehouse.databaseEnv" -}}
- name: GATEHOUSE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.databaseUrl.name: name the Secret holding the PostgreSQL URL" .Values.secrets.databaseUrl.name }}
      key: {{ .Values.secrets.databaseUrl.key }}
- name: GATEHOUSE_DATABASE_SCHEMA
  value: {{ .Values.config.databaseSchema | quote }}
- name: GATEHOUSE_DATA_DIR
  value: /var/lib/gatehouse
- name: GATEHOUSE_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
{{- end }}
