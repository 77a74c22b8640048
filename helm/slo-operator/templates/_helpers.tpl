{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "slo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it already contains the chart name. Cluster-scoped objects
(ClusterRole, ClusterRoleBinding) carry it, so two releases never collide. */}}
{{- define "slo-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "slo-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "slo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "slo-operator.labels" -}}
helm.sh/chart: {{ include "slo-operator.chart" . }}
{{ include "slo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: slo-operator
{{- end }}

{{- define "slo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "slo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "slo-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion (toString .Values.image.tag)) }}
{{- end }}

{{/* A map as the operator's key=value[,key=value] label syntax, sorted by key; values pass through
`tpl`, so `release: "{{ .Release.Name }}"` works. Call with (dict "labels" MAP "ctx" $). */}}
{{- define "slo-operator.labelList" -}}
{{- $ctx := .ctx }}
{{- $items := list }}
{{- range $key := keys .labels | sortAlpha }}
{{- $items = append $items (printf "%s=%s" $key (tpl (toString (get $.labels $key)) $ctx)) }}
{{- end }}
{{- join "," $items }}
{{- end }}

{{/* A Secret key reference as the operator's name/key syntax (empty when no Secret is named). */}}
{{- define "slo-operator.secretRef" -}}
{{- if .secretName }}{{ printf "%s/%s" .secretName .secretKey }}{{ end }}
{{- end }}
