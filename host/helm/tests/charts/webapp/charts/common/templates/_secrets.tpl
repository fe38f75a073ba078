{{- define "common.secrets.checksum" -}}
{{- toYaml . | sha256sum | trunc 16 -}}
{{- end -}}
