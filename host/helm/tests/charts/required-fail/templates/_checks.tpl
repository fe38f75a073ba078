{{- define "required-fail.dbHost" -}}
{{ required "database.host is required inside a named template" .Values.database.host }}
{{- end -}}
