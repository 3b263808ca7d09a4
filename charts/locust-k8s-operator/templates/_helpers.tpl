{{/* Names and labels. */}}

{{- define "locust-k8s-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "locust-k8s-operator.fullname" -}}
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

{{- define "locust-k8s-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: never change them, a Deployment's selector is immutable. */}}
{{- define "locust-k8s-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "locust-k8s-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "locust-k8s-operator.labels" -}}
helm.sh/chart: {{ include "locust-k8s-operator.chart" . }}
{{ include "locust-k8s-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: locust-k8s-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "locust-k8s-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "locust-k8s-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "locust-k8s-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* The webhook Service: the apiserver calls <name>.<namespace>.svc:443. */}}
{{- define "locust-k8s-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "locust-k8s-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "locust-k8s-operator.webhookCertSecretName" -}}
{{- .Values.webhook.certSecretName | default (printf "%s-webhook-certs" (include "locust-k8s-operator.fullname" .)) }}
{{- end }}

{{- define "locust-k8s-operator.certificateName" -}}
{{- printf "%s-webhook" (include "locust-k8s-operator.fullname" .) }}
{{- end }}

{{/*
The namespaces watched, as a JSON list (empty = all namespaces): watchNamespaces, or the
release namespace alone when the reference chart's k8s.clusterRole.enabled is false.
Use: include "locust-k8s-operator.watchNamespaces" . | fromJsonArray
*/}}
{{- define "locust-k8s-operator.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- .Values.watchNamespaces | uniq | toJson }}
{{- else if and .Values.k8s .Values.k8s.clusterRole (eq (toString .Values.k8s.clusterRole.enabled) "false") }}
{{- list .Release.Namespace | toJson }}
{{- else }}
{{- list | toJson }}
{{- end }}
{{- end }}

{{/* The names of the Secrets for pulling the operator image. */}}
{{- define "locust-k8s-operator.imagePullSecrets" -}}
{{- $names := list }}
{{- range concat (.Values.imagePullSecrets | default list) (.Values.image.pullSecrets | default list) }}
{{- if kindIs "map" . }}
{{- $names = append $names .name }}
{{- else }}
{{- $names = append $names . }}
{{- end }}
{{- end }}
{{- range $names | uniq }}
- name: {{ . }}
{{- end }}
{{- end }}

{{/*
Resource variables of one container family: (list PREFIX RESOURCES) -> PREFIX_CPU_REQUEST,
PREFIX_MEM_LIMIT, ... for every value that is set (an empty value leaves the operator's
default, or for MASTER_/WORKER_ the unified value, in place).
*/}}
{{- define "locust-k8s-operator.resourceEnv" -}}
{{- $prefix := index . 0 }}
{{- $resources := index . 1 | default dict }}
{{- range $kind, $suffix := dict "requests" "REQUEST" "limits" "LIMIT" }}
{{- $values := get $resources $kind | default dict }}
{{- range $field, $variable := dict "cpu" "CPU" "memory" "MEM" "ephemeralStorage" "EPHEMERAL" }}
{{- $value := get $values $field }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ printf "%s%s_%s" $prefix $variable $suffix }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's configuration: the reference operator's environment variables. */}}
{{- define "locust-k8s-operator.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- $pods := .Values.locustPods }}
{{- include "locust-k8s-operator.resourceEnv" (list "POD_" $pods.resources) }}
{{- include "locust-k8s-operator.resourceEnv" (list "MASTER_POD_" $pods.masterResources) }}
{{- include "locust-k8s-operator.resourceEnv" (list "WORKER_POD_" $pods.workerResources) }}
- name: ENABLE_AFFINITY_CR_INJECTION
  value: {{ $pods.affinityInjection | quote }}
- name: ENABLE_TAINT_TOLERATIONS_CR_INJECTION
  value: {{ $pods.tolerationsInjection | quote }}
{{- with $pods.runtimeClassName }}
- name: DEFAULT_RUNTIME_CLASS_NAME
  value: {{ . | quote }}
{{- end }}
{{- $ttl := $pods.ttlSecondsAfterFinished }}
{{- if and (not (kindIs "invalid" $ttl)) (ne (toString $ttl) "") }}
- name: JOB_TTL_SECONDS_AFTER_FINISHED
  value: {{ $ttl | toString | quote }}
{{- end }}
{{- with $pods.metricsExporter }}
- name: METRICS_EXPORTER_IMAGE
  value: {{ .image | quote }}
- name: METRICS_EXPORTER_PORT
  value: {{ .port | toString | quote }}
- name: METRICS_EXPORTER_IMAGE_PULL_POLICY
  value: {{ .pullPolicy | quote }}
{{- include "locust-k8s-operator.resourceEnv" (list "METRICS_EXPORTER_" .resources) }}
{{- end }}
{{- with .Values.kafka }}
{{- if or .enabled .bootstrapServers }}
{{- if not .bootstrapServers }}
{{- fail "kafka.enabled is true but kafka.bootstrapServers is empty: set the Kafka bootstrap servers (host:port,...)" }}
{{- end }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .bootstrapServers | quote }}
- name: KAFKA_SECURITY_ENABLED
  value: {{ .security.enabled | quote }}
{{- if .security.enabled }}
- name: KAFKA_SECURITY_PROTOCOL_CONFIG
  value: {{ .security.protocol | quote }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .security.saslMechanism | quote }}
{{- with .security.jaasConfig }}
- name: KAFKA_SASL_JAAS_CONFIG
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .credentials }}
{{- if .secretName }}
- name: KAFKA_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .usernameKey | default "username" }}
- name: KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .passwordKey | default "password" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.controller }}
- name: POD_HEALTH_GRACE_PERIOD_SECONDS
  value: {{ .podHealthGracePeriodSeconds | toString | quote }}
- name: MAX_CONCURRENT_RECONCILES
  value: {{ .maxConcurrentReconciles | toString | quote }}
- name: RESYNC_PERIOD_SECONDS
  value: {{ .resyncPeriodSeconds | toString | quote }}
- name: RESULTS_INTERVAL_SECONDS
  value: {{ .resultsIntervalSeconds | default 10 | toString | quote }}
- name: RESULTS_MASTER_ACCESS
  value: {{ .resultsMasterAccess | default "auto" | quote }}
- name: RESULTS_STOPPED_TIMEOUT_SECONDS
  value: {{ .resultsStoppedTimeoutSeconds | default 60 | toString | quote }}
{{- end }}
{{- end }}

{{/*
RBAC rules for reconciling LocustTests in a namespace (a ClusterRole when every namespace
is watched). Exactly the calls the controller makes: children go with
the test through garbage collection; only the Jobs of a run the operator ended are
deleted) and it reads ConfigMaps only to name a missing one.
*/}}
{{- define "locust-k8s-operator.controllerRules" -}}
# Tests and pods are read from the informers' caches (list, watch): never by name.
- apiGroups: ["locust.io"]
  resources: ["locusttests"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["locust.io"]
  resources: ["locusttests/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the Jobs and the Service need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: ["locust.io"]
  resources: ["locusttests/finalizers"]
  verbs: ["update"]
# Children are created once and never changed; get reads one whose name is taken.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
# The kept report of a finished test (<name>-report, owned by the test): created once,
# patched when a run restarted from the web UI ends again.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch"]
# A run the operator ended (stopped in the web UI, or abortOnFail) has a master that
# never quits by itself: its Jobs are deleted once the test is final.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["delete"]
{{- if eq (.Values.controller.resultsMasterAccess | default "auto") "proxy" }}
# Results through the API server's service proxy: reads (get) and abortOnFail's /stop (create).
- apiGroups: [""]
  resources: ["services/proxy"]
  verbs: ["get", "create"]
{{- end }}
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/*
The chart needs Kubernetes 1.29+ (native sidecars run the master's metrics exporter). Helm
reports v1.20.0 when it renders without a cluster (`helm template`); that default is not a
real cluster's version, so it is let through. A reachable cluster, or an explicit
`--kube-version`, older than 1.29 fails the render.
*/}}
{{- define "locust-k8s-operator.checkKubeVersion" -}}
{{- $version := .Capabilities.KubeVersion.Version }}
{{- $helmOfflineDefault := eq $version "v1.20.0" }}
{{- if and (not $helmOfflineDefault) (semverCompare "< 1.29.0-0" $version) }}
{{- fail (printf "this chart needs Kubernetes 1.29 or later (native sidecars); the cluster is %s" $version) }}
{{- end }}
{{- end }}
