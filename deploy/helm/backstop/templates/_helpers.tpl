{{/* Names: the release name when it already holds the chart's name ("backstop" renders the
objects deploy/base names "backstop"), else "<release>-backstop". */}}
{{- define "backstop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "backstop.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "backstop.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selects this release's pods. app.kubernetes.io/name is also the scrape's job label. */}}
{{- define "backstop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "backstop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "backstop.labels" -}}
{{ include "backstop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "backstop.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* A value as an environment variable's text. Numbers in a values file reach templates as
float64, which prints 16777216 as 1.6777216e+07: whole numbers are printed as integers. */}}
{{- define "backstop.text" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}

{{/* An integer setting as backstop reads it: (list $ "PORT" 8080) -> the value, or the default
when it is empty. backstop's own defaults (src/config.ts), repeated here because the ports, the
probes and the grace period are derived from them; test/deploy-helm.test.ts keeps them equal. */}}
{{- define "backstop.intSetting" -}}
{{- $root := index . 0 }}
{{- $key := index . 1 }}
{{- $text := include "backstop.text" (index $root.Values.config $key) | trim }}
{{- if eq $text "" }}
{{- index . 2 }}
{{- else if regexMatch "^[0-9]+$" $text }}
{{- atoi $text }}
{{- else }}
{{- fail (printf "config.%s=%q is not a whole number" $key $text) }}
{{- end }}
{{- end }}

{{- define "backstop.port" -}}
{{- include "backstop.intSetting" (list . "PORT" 8080) }}
{{- end }}

{{- define "backstop.adminPort" -}}
{{- include "backstop.intSetting" (list . "ADMIN_PORT" 9090) }}
{{- end }}

{{/* SIGTERM starts the drain: SHUTDOWN_DELAY_MS of serving while endpoints are removed, then up to
SHUTDOWN_GRACE_MS for in-flight requests. SIGKILL must come later: 10 s more by default, leaving
time for the process to exit; an explicit value that does not exceed the drain is refused. */}}
{{- define "backstop.terminationGracePeriodSeconds" -}}
{{- $drainMs := add (include "backstop.intSetting" (list . "SHUTDOWN_DELAY_MS" 5000)) (include "backstop.intSetting" (list . "SHUTDOWN_GRACE_MS" 30000)) }}
{{- $explicit := .Values.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $explicit }}
{{- add (div (add $drainMs 999) 1000) 10 }}
{{- else if gt (mul (int64 $explicit) 1000) $drainMs }}
{{- int64 $explicit }}
{{- else }}
{{- fail (printf "terminationGracePeriodSeconds %d does not exceed SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS (%d ms): the kubelet would kill backstop mid-drain" (int64 $explicit) $drainMs) }}
{{- end }}
{{- end }}
