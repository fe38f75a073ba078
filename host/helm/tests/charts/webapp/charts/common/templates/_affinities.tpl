{{- define "common.affinities.pods" -}}
{{- $weight := .weight | default 1 -}}
{{- if eq .type "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - podAffinityTerm:
        labelSelector:
          matchLabels: {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 12 }}
        topologyKey: kubernetes.io/hostname
      weight: {{ $weight }}
{{- else if eq .type "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector:
        matchLabels: {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 10 }}
      topologyKey: kubernetes.io/hostname
{{- end -}}
{{- end -}}
