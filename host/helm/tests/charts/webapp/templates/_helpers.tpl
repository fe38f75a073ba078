{{- define "webapp.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{- define "webapp.labels" -}}
{{- include "common.labels.standard" (dict "customLabels" .Values.commonLabels "context" .) -}}
{{- end -}}

{{- define "webapp.image" -}}
{{- include "common.images.image" (dict "imageRoot" .Values.image "global" .Values.global "chart" .Chart) -}}
{{- end -}}

{{- define "webapp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "webapp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "webapp.podTemplate" -}}
metadata:
  annotations:
    checksum/config: {{ include "common.secrets.checksum" .Values.config }}
    checksum/secret: {{ include "common.secrets.checksum" .Values.secretEnv }}
    {{- with .Values.podAnnotations }}
    {{- include "common.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
    {{- end }}
  labels: {{- include "webapp.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "webapp.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- include "common.images.pullSecrets" (dict "images" (list .Values.image) "global" .Values.global) | nindent 2 }}
  {{- if .Values.podSecurityContext.enabled }}
  securityContext: {{- omit .Values.podSecurityContext "enabled" | toYaml | nindent 4 }}
  {{- end }}
  {{- if .Values.affinityPreset }}
  affinity: {{- include "common.affinities.pods" (dict "type" .Values.affinityPreset "context" $) | nindent 4 }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints: {{- include "common.tplvalues.render" (dict "value" . "context" $) | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ include "common.names.name" . }}
      image: {{ include "webapp.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- with .Values.command }}
      command: {{- include "common.tplvalues.render" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.args }}
      args: {{- include "common.tplvalues.render" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- if .Values.containerSecurityContext.enabled }}
      securityContext: {{- omit .Values.containerSecurityContext "enabled" | toYaml | nindent 8 }}
      {{- end }}
      env:
        {{- range $k, $v := .Values.env }}
        - name: {{ $k }}
          value: {{ tpl (toString $v) $ | quote }}
        {{- end }}
        {{- range $k, $_ := .Values.secretEnv }}
        - name: {{ $k }}
          valueFrom:
            secretKeyRef:
              name: {{ include "webapp.fullname" $ }}
              key: {{ $k | lower | replace "_" "-" }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- include "common.tplvalues.render" (dict "value" . "context" $) | nindent 8 }}
        {{- end }}
      ports:
        {{- range $name, $port := .Values.containerPorts }}
        {{- if or (ne $name "metrics") $.Values.metrics.enabled }}
        - name: {{ $name }}
          containerPort: {{ $port }}
          protocol: TCP
        {{- end }}
        {{- end }}
      {{- with .Values.probes }}
      {{- if .liveness.enabled }}
      livenessProbe:
        httpGet: {path: {{ .liveness.path }}, port: http}
        initialDelaySeconds: {{ .liveness.initialDelaySeconds }}
        periodSeconds: {{ .liveness.periodSeconds }}
      {{- end }}
      {{- if .readiness.enabled }}
      readinessProbe:
        httpGet: {path: {{ .readiness.path }}, port: http}
        initialDelaySeconds: {{ .readiness.initialDelaySeconds }}
        periodSeconds: {{ .readiness.periodSeconds }}
      {{- end }}
      {{- if .startup.enabled }}
      startupProbe:
        httpGet: {path: {{ .startup.path }}, port: http}
        failureThreshold: {{ .startup.failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with .Values.resources }}
      resources: {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/webapp
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if .Values.persistence.enabled }}
        - name: data
          mountPath: {{ .Values.persistence.mountPath }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "webapp.fullname" . }}
    - name: tmp
      emptyDir: {}
    {{- if and .Values.persistence.enabled (eq .Values.kind "Deployment") }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "webapp.fullname" . }}
    {{- end }}
{{- end -}}
