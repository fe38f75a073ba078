{{- define "errors.inner" -}}
inner {{ .Values.nothere.deeper }}
{{- end -}}
{{- define "errors.innerMissing" -}}
{{ .Values.missingKey }}
{{- end -}}
{{- define "errors.innerFunc" -}}
{{ .Values.num | b64enc }}
{{- end -}}
{{- define "errors.outer" -}}
{{ include "errors.innerMissing" . }}
{{- end -}}
