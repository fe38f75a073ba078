{{- define "library-user.never-rendered" }}partials do not render{{ end }}
