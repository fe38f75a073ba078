{{- define "tpl-include.name" -}}
{{ .Chart.Name }}-{{ .Values.name }}
{{- end -}}
{{- define "tpl-include.outer" -}}
outer({{ include "tpl-include.middle" . }})
{{- end -}}
{{- define "tpl-include.middle" -}}
middle({{ include "tpl-include.name" . | upper }})
{{- end -}}
{{- define "tpl-include.countdown" -}}
{{- if gt (int .n) 0 -}}
{{ .n }} {{ include "tpl-include.countdown" (dict "n" (sub (int .n) 1)) }}
{{- else -}}
liftoff
{{- end -}}
{{- end -}}
{{- define "tpl-include.forever" -}}
{{ include "tpl-include.forever" . }}
{{- end -}}
{{- define "tpl-include.withData" -}}
{{ .a }}+{{ .b }}={{ add .a .b }} root={{ .root.Release.Name }}
{{- end -}}
{{- define "tpl-include.templateKeyword" -}}
template keyword sees {{ .Values.name }}
{{- end -}}
