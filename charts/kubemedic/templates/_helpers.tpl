{{/*
The chart name, or nameOverride.
*/}}
{{- define "kubemedic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: fullnameOverride, or <release>-<name> (just <release> when it already
contains the name), truncated to 63 characters because some name fields are DNS labels.
*/}}
{{- define "kubemedic.fullname" -}}
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

{{/*
A name derived from the full name with a suffix, still at most 63 characters.
Usage: include "kubemedic.suffixed" (list . "vllm")
*/}}
{{- define "kubemedic.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := include "kubemedic.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{/*
chart label: name-version.
*/}}
{{- define "kubemedic.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "kubemedic.labels" -}}
helm.sh/chart: {{ include "kubemedic.chart" . }}
{{ include "kubemedic.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubemedic
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of the operator; never change them in an upgrade (selectors are immutable).
*/}}
{{- define "kubemedic.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubemedic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Operator component labels (all labels plus the component).
*/}}
{{- define "kubemedic.operatorLabels" -}}
{{ include "kubemedic.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kubemedic.operatorSelectorLabels" -}}
{{ include "kubemedic.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
vLLM component labels.
*/}}
{{- define "kubemedic.vllmLabels" -}}
{{ include "kubemedic.labels" . }}
app.kubernetes.io/component: llm-server
{{- end }}

{{- define "kubemedic.vllmSelectorLabels" -}}
{{ include "kubemedic.selectorLabels" . }}
app.kubernetes.io/component: llm-server
{{- end }}

{{/*
The operator's ServiceAccount name.
*/}}
{{- define "kubemedic.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubemedic.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image reference: repository@digest or repository:tag (default appVersion).
*/}}
{{- define "kubemedic.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The Secret with the webhook bearer token, and its key.
*/}}
{{- define "kubemedic.webhookSecretName" -}}
{{- default (include "kubemedic.suffixed" (list . "webhook")) .Values.webhook.token.existingSecret }}
{{- end }}

{{- define "kubemedic.leaseName" -}}
{{- default (include "kubemedic.suffixed" (list . "leader")) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
vLLM object names and the model name clients send.
*/}}
{{- define "kubemedic.vllmName" -}}
{{- include "kubemedic.suffixed" (list . "vllm") }}
{{- end }}

{{- define "kubemedic.vllmServedModel" -}}
{{- default .Values.llm.vllm.model .Values.llm.vllm.servedModelName }}
{{- end }}

{{/*
The LLM endpoints the operator uses, as a JSON list: the chart's vLLM Service, or
llm.endpoints.
*/}}
{{- define "kubemedic.llmEndpoints" -}}
{{- if .Values.llm.vllm.enabled }}
{{- list (printf "http://%s.%s.svc:%d/v1" (include "kubemedic.vllmName" .) .Release.Namespace (int .Values.llm.vllm.port)) | toJson }}
{{- else }}
{{- .Values.llm.endpoints | toJson }}
{{- end }}
{{- end }}

{{- define "kubemedic.llmModel" -}}
{{- if .Values.llm.model }}
{{- .Values.llm.model }}
{{- else if .Values.llm.vllm.enabled }}
{{- include "kubemedic.vllmServedModel" . }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express; fail early with a message naming the
values and what to do.
*/}}
{{- define "kubemedic.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: every replica would reconcile and act on its own. Set leaderElection.enabled=true or replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.leaderElection.enabled (ge (int .Values.leaderElection.renewDeadlineSeconds) (int .Values.leaderElection.leaseDurationSeconds)) }}
{{- fail "leaderElection.renewDeadlineSeconds must be less than leaderElection.leaseDurationSeconds, so a leader that cannot renew stops acting before its Lease expires." }}
{{- end }}
{{- if and .Values.llm.vllm.enabled .Values.llm.endpoints }}
{{- fail "set either llm.vllm.enabled (the chart serves the model) or llm.endpoints (an existing server), not both." }}
{{- end }}
{{- if and .Values.llm.vllm.enabled (eq .Values.llm.vllm.autoscaling.mode "keda") (not (or .Values.llm.vllm.autoscaling.keda.serverAddress .Values.alerts.prometheusUrl)) }}
{{- fail "llm.vllm.autoscaling.mode is 'keda' but no Prometheus URL is set: set llm.vllm.autoscaling.keda.serverAddress or alerts.prometheusUrl." }}
{{- end }}
{{- if and .Values.llm.vllm.enabled (eq .Values.llm.vllm.autoscaling.mode "hpa") (lt (int .Values.llm.vllm.autoscaling.minReplicas) 1) }}
{{- fail "llm.vllm.autoscaling.minReplicas must be at least 1 with mode 'hpa'; scaling to zero needs mode 'keda'." }}
{{- end }}
{{- if and .Values.llm.vllm.enabled (ne .Values.llm.vllm.autoscaling.mode "none") (gt (int .Values.llm.vllm.autoscaling.minReplicas) (int .Values.llm.vllm.autoscaling.maxReplicas)) }}
{{- fail "llm.vllm.autoscaling.minReplicas must not be greater than llm.vllm.autoscaling.maxReplicas." }}
{{- end }}
{{- end }}
