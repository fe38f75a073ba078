{{- define "capabilities.where" -}}
{{ .Template.Name }} | {{ .Template.BasePath }}
{{- end -}}
