{{/*
Names and labels of the chart's objects. The operator's own children carry
app.kubernetes.io/managed-by=shuttle-operator; these carry Helm, so the operator's informers
never see the chart's objects.
*/}}

{{- define "shuttle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shuttle.fullname" -}}
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

{{- define "shuttle.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shuttle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shuttle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shuttle.labels" -}}
helm.sh/chart: {{ include "shuttle.chart" . }}
{{ include "shuttle.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shuttle
{{- end }}

{{- define "shuttle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shuttle.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "shuttle.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespaces the operator watches with rbac.scope=namespace: watchNamespaces, else the release namespace. */}}
{{- define "shuttle.watchNamespaces" -}}
{{- if .Values.rbac.watchNamespaces }}
{{- join "," (uniq .Values.rbac.watchNamespaces) }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/* QOSDK's controller namespaces: JOSDK_ALL_NAMESPACES or a comma-separated list. */}}
{{- define "shuttle.operatorNamespaces" -}}
{{- if eq .Values.rbac.scope "cluster" }}
{{- print "JOSDK_ALL_NAMESPACES" }}
{{- else }}
{{- include "shuttle.watchNamespaces" . }}
{{- end }}
{{- end }}

{{/*
True (non-empty) when Prometheus Operator objects may be rendered: monitoring is enabled and
the cluster serves monitoring.coreos.com/v1, or monitoring.forceEnable skips that check.
*/}}
{{- define "shuttle.prometheusOperator" -}}
{{- if and .Values.monitoring.enabled (or .Values.monitoring.forceEnable (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}
{{- print "true" }}
{{- end }}
{{- end }}

{{- define "shuttle.monitoringLabels" -}}
{{ include "shuttle.labels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of the CRD this chart ships (crds/ and the upgrade hook). */}}
{{- define "shuttle.crdName" -}}
moedeployments.shuttle.io
{{- end }}

{{/*
Name of cluster-scoped objects (ClusterRoles and their bindings): the full name plus the release
namespace, so that releases of the same name in two namespaces do not collide.
*/}}
{{- define "shuttle.clusterScopedName" -}}
{{- printf "%s-%s" (include "shuttle.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}
