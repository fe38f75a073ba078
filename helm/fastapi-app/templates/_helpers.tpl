{{/*
Expand the name of the chart.
*/}}
{{- define "fastapi-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's track, "stable" or "canary": .Values.track, or when it is empty
"canary" for a release named "…-canary" and "stable" otherwise.
*/}}
{{- define "fastapi-app.track" -}}
{{- $track := .Values.track | default (ternary "canary" "stable" (hasSuffix "-canary" .Release.Name)) }}
{{- if not (has $track (list "stable" "canary")) }}
{{- fail (printf "track must be \"stable\" or \"canary\", not %v" $track) }}
{{- end }}
{{- $track }}
{{- end }}

{{/*
The stable release's name: this release's on the stable track; on the canary
track canary.stableRelease, or this release's name without "-canary".
*/}}
{{- define "fastapi-app.stableRelease" -}}
{{- if eq (include "fastapi-app.track" .) "canary" }}
{{- .Values.canary.stableRelease | default (trimSuffix "-canary" .Release.Name) }}
{{- else }}
{{- .Release.Name }}
{{- end }}
{{- end }}

{{/*
The stable release's full name (helm create's fullname, of the stable release):
the name of its Deployment, Service, Ingress, HTTPRoute, HPA and ServiceAccount.
Truncated at 63 characters, as Kubernetes names allow (DNS labels).
*/}}
{{- define "fastapi-app.stableFullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $release := include "fastapi-app.stableRelease" . }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name $release }}
{{- $release | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" $release $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
This release's full name: the stable full name on the stable track,
"<stable full name>-canary" on the canary track (fastapi-app-canary for the
request's releases), so the stable release's HTTPRoute can name the canary's
Service, and a fullnameOverride shared by both releases cannot collide.
*/}}
{{- define "fastapi-app.fullname" -}}
{{- $stable := include "fastapi-app.stableFullname" . }}
{{- if eq (include "fastapi-app.track" .) "canary" }}
{{- printf "%s-canary" ($stable | trunc 56 | trimSuffix "-") }}
{{- else }}
{{- $stable }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "fastapi-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The app's labels, carried by the pods of both tracks: what the stable Service
selects. app.kubernetes.io/instance differs between the two releases, so the
app is named by app.kubernetes.io/part-of, the stable release's name, instead
(two installs of this chart in one namespace stay apart).
*/}}
{{- define "fastapi-app.appLabels" -}}
app.kubernetes.io/name: {{ include "fastapi-app.name" . }}
app.kubernetes.io/part-of: {{ include "fastapi-app.stableRelease" . | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The Deployment's selector: helm create's, unchanged since chart 0.1.0, since a
Deployment's selector is immutable (an upgrade that changed it would fail).
The release name differs between the tracks, so each Deployment selects only
its own track's pods; the `track` label is on the pods, not in the selector.
*/}}
{{- define "fastapi-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fastapi-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels: of every object, and of the pods (with podLabels).
*/}}
{{- define "fastapi-app.labels" -}}
helm.sh/chart: {{ include "fastapi-app.chart" . }}
{{ include "fastapi-app.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "fastapi-app.stableRelease" . | trunc 63 | trimSuffix "-" }}
track: {{ include "fastapi-app.track" . }}
app.kubernetes.io/version: {{ include "fastapi-app.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The version label: the image tag (the commit the pipeline deploys), else the
chart's appVersion; cut to a label value's 63 characters.
*/}}
{{- define "fastapi-app.version" -}}
{{- include "fastapi-app.tag" . | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The image tag as text: image.tag, else the chart's appVersion. A tag of digits
arrives as a number (--set image.tag=20261126 gives an integer, a values file
or --set-json a float64, which Go would print as 2.0261126e+07); the schema
admits only whole numbers, so a float64 is printed as the integer it is.
*/}}
{{- define "fastapi-app.tag" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if kindIs "float64" $tag }}
{{- $tag = int64 $tag }}
{{- end }}
{{- toString $tag }}
{{- end }}

{{/*
The image reference: "repository@digest" when image.digest is set (the
pods run exactly that image, whatever the tag points at later), else
"repository:tag".
*/}}
{{- define "fastapi-app.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "fastapi-app.tag" .) }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the pods use. The stable release creates it (or names an
existing one); the canary release uses the stable's, computed from the stable
release's full name, and never creates one.
*/}}
{{- define "fastapi-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fastapi-app.stableFullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Whether this release has a Service: the stable release always; the canary
release only in Gateway API mode (the HTTPRoute's canary backend).
*/}}
{{- define "fastapi-app.hasService" -}}
{{- if or (eq (include "fastapi-app.track" .) "stable") .Values.httpRoute.enabled }}true{{ end }}
{{- end }}

{{/*
The path the readiness probe asks (/health by default): what NOTES.txt and the
test pod check.
*/}}
{{- define "fastapi-app.healthPath" -}}
{{- dig "httpGet" "path" "/health" (.Values.readinessProbe | default dict) }}
{{- end }}
