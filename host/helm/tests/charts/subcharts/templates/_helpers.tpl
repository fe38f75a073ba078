{{- define "subcharts.describe" -}}
chart={{ .Chart.Name }} version={{ .Chart.Version }} root={{ .Chart.IsRoot }} template={{ .Template.Name }} base={{ .Template.BasePath }}
{{- end -}}
