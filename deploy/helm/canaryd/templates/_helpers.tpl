{{/*
_helpers.tpl - names and labels shared by canaryd's chart templates (the
same scheme as Flagger's chart: name, fullname, chart label), and the
checks that refuse values canaryd cannot honour. Renders nothing itself.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "canaryd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: fullnameOverride, else the release name when
it contains the chart's name, else "<release>-<name>". */}}
{{- define "canaryd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "canaryd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What selects canaryd's pods: never changes for a release. */}}
{{- define "canaryd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canaryd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "canaryd.labels" -}}
{{ include "canaryd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: canaryd
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "canaryd.chart" . }}
{{- end -}}

{{- define "canaryd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "canaryd.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: with serviceAccount.create=false, name the existing ServiceAccount canaryd runs as (e.g. appmesh-controller)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Values of Flagger's chart that canaryd cannot honour: refused with a
reason, never silently ignored. */}}
{{- define "canaryd.refuseUnsupported" -}}
{{- with .Values.prometheus }}{{ if .install }}
{{- fail "prometheus.install: canaryd's chart installs no Prometheus; point metricsServer at yours" -}}
{{- end }}{{ end -}}
{{- with .Values.rbac }}{{ if .pspEnabled }}
{{- fail "rbac.pspEnabled: PodSecurityPolicy was removed in Kubernetes 1.25; canaryd's pod runs as non-root with a read-only root filesystem (podSecurityContext, securityContext)" -}}
{{- end }}{{ end -}}
{{- with .Values.linkerdAuthPolicy }}{{ if .create }}
{{- fail "linkerdAuthPolicy.create: canaryd's chart creates no Linkerd AuthorizationPolicy; with meshProvider linkerd, authorize canaryd's requests to Prometheus and the load tester yourself (docs/mesh.md)" -}}
{{- end }}{{ end -}}
{{- with .Values.controlplane }}{{ with .kubeconfig }}{{ if .secretName }}
{{- fail "controlplane.kubeconfig.secretName: canaryd has no multi-cluster service mesh support" -}}
{{- end }}{{ end }}{{ end -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.leaderElection.replicaCount) 1) -}}
{{- fail "leaderElection.replicaCount: more than one replica needs leaderElection.enabled=true (two operators must never work at once)" -}}
{{- end -}}
{{- end -}}
