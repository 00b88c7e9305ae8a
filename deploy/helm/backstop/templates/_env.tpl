{{/* The backstop container's env, as YAML: NODE_OPTIONS, extraEnv, then tracing's variables. Last,
so that tracing.resourceAttributes may refer to an extraEnv variable as $(NAME): the kubelet expands
only the variables defined before. Empty when there is none (the container then has no env). A
name set twice is refused: which entry wins would depend on the API server. */}}
{{- define "backstop.env" -}}
{{- $own := list }}
{{- with .Values.nodeOptions }}
{{- $own = append $own (dict "name" "NODE_OPTIONS" "value" .) }}
{{- end }}
{{- $tracing := include "backstop.tracingEnv" . | fromYamlArray }}
{{- $names := list }}
{{- range concat $own $tracing }}
{{- $names = append $names .name }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name $names }}
{{- fail (printf "extraEnv sets %s, which is already set (by nodeOptions, tracing or extraEnv itself): set it in one place" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- $env := concat $own .Values.extraEnv $tracing }}
{{- if $env }}
{{- toYaml $env }}
{{- end }}
{{- end }}

{{/* OpenTelemetry traces, by the standard variables backstop reads (src/trace/otel-env.ts; it has
no other tracing setting). The pod and namespace names come from the downward API into
OTEL_RESOURCE_ATTRIBUTES, as the collector's k8sattributes processor and trace backends expect. */}}
{{- define "backstop.tracingEnv" -}}
{{- $tracing := .Values.tracing }}
{{- if $tracing.enabled }}
{{- $endpoint := $tracing.endpoint | trim }}
{{- if eq $endpoint "" }}
{{- fail "tracing.enabled is true but tracing.endpoint is empty: set it to the collector's OTLP/HTTP base URL, e.g. http://otel-collector.observability:4318" }}
{{- end }}
{{- if not (regexMatch "^https?://[^/]" $endpoint) }}
{{- fail (printf "tracing.endpoint %s is not an http:// or https:// URL: backstop would exit 2 at start-up" $endpoint) }}
{{- end }}
{{- if regexMatch ":4317(/|$)" $endpoint }}
{{- fail (printf "tracing.endpoint %s is the OTLP/gRPC port: backstop exports OTLP/HTTP (the collector's 4318)" $endpoint) }}
{{- end }}
{{- if regexMatch "/v1/traces/?$" $endpoint }}
{{- fail (printf "tracing.endpoint %s ends in /v1/traces, which backstop appends itself: give the base URL" $endpoint) }}
{{- end }}
{{- $attributes := list "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" }}
{{- range $key, $value := $tracing.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" (include "backstop.otelEncoded" $key) (include "backstop.otelEncoded" $value)) }}
{{- end }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $endpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $tracing.sampler | quote }}
{{- if hasSuffix "traceidratio" $tracing.sampler }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ include "backstop.text" $tracing.samplerArg | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ $tracing.serviceName | default (include "backstop.fullname" .) | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- end }}
{{- end }}

{{/* A key or value of OTEL_RESOURCE_ATTRIBUTES: "," and "=" must be percent-encoded, and "%"
because the SDK percent-decodes. It drops the whole variable, silently, when one entry fails. */}}
{{- define "backstop.otelEncoded" -}}
{{- toString . | replace "%" "%25" | replace "," "%2C" | replace "=" "%3D" }}
{{- end }}
