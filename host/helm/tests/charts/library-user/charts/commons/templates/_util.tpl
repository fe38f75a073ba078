{{- define "commons.merge" -}}
{{- $top := first . -}}
{{- $overrides := fromYaml (include (index . 1) $top) | default (dict) -}}
{{- $tpl := fromYaml (include (index . 2) $top) | default (dict) -}}
{{- toYaml (merge $overrides $tpl) -}}
{{- end -}}
{{- define "commons.deployment.tpl" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
spec:
  replicas: 1
  template:
    spec:
      containers: []
{{- end -}}
{{- define "commons.deployment" -}}
{{- include "commons.merge" (append . "commons.deployment.tpl") -}}
{{- end -}}
