{{/*
The gateway container's environment, mounts and file volumes: the Deployment's pods and the
`helm test` pod (templates/tests/) read the same config with the same files and variables.
*/}}
{{- define "mtls-gateway.env" -}}
- name: NODE_ENV
  value: production
{{- if eq .Values.store.kind "redis" }}
{{- $r := .Values.store.redis }}
{{- if eq $r.mode "standalone" }}
- name: MTLS_GATEWAY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "mtls-gateway.redisSecretName" . }}
      key: {{ $r.existingSecretKey }}
{{- end }}
{{- with include "mtls-gateway.redisPasswordKey" . }}
- name: MTLS_GATEWAY_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "mtls-gateway.redisSecretName" $ }}
      key: {{ . }}
{{- end }}
{{- if and (eq $r.mode "sentinel") $r.sentinel.passwordKey }}
- name: MTLS_GATEWAY_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "mtls-gateway.redisSecretName" . }}
      key: {{ $r.sentinel.passwordKey }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{- define "mtls-gateway.volumeMounts" -}}
- name: config
  mountPath: {{ include "mtls-gateway.configDir" . }}
  readOnly: true
- name: state
  mountPath: {{ include "mtls-gateway.stateDir" . }}
- name: tmp
  mountPath: /tmp
{{- range .Values.endpoints }}
{{- if .tls.secretName }}
- name: {{ include "mtls-gateway.endpointVolume" .name }}
  mountPath: {{ include "mtls-gateway.endpointsDir" $ }}/{{ .name }}
  readOnly: true
{{- end }}
{{- if .tls.caBundle }}
- name: {{ include "mtls-gateway.caBundleVolume" .name }}
  mountPath: {{ include "mtls-gateway.caBundlesDir" $ }}/{{ .name }}
  readOnly: true
{{- end }}
{{- end }}
{{- if .Values.store.sealKeys.existingSecret }}
- name: seal-keys
  mountPath: {{ include "mtls-gateway.sealKeysDir" . }}
  readOnly: true
{{- end }}
{{- if include "mtls-gateway.redisTlsSecret" . }}
- name: redis-tls
  mountPath: {{ include "mtls-gateway.redisTlsDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.interception.caSecretName }}
- name: interception-ca
  mountPath: {{ include "mtls-gateway.interceptionCaDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.gateway.consoleToken.existingSecret }}
- name: console-token
  mountPath: {{ include "mtls-gateway.consoleTokenDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.gateway.adminTls.secretName }}
- name: admin-tls
  mountPath: {{ include "mtls-gateway.adminTlsDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.gateway.adminTls.clientCaSecret }}
- name: admin-client-ca
  mountPath: {{ include "mtls-gateway.adminClientCaDir" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* Every volume but `state` (a PVC or an emptyDir: the Deployment's choice). */}}
{{- define "mtls-gateway.fileVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- range $endpoint := .Values.endpoints }}
{{- if .tls.secretName }}
- name: {{ include "mtls-gateway.endpointVolume" .name }}
  secret:
    secretName: {{ .tls.secretName }}
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- with .tls.caBundle }}
# The server's roots from a bundle kept apart from the client Secret (trust-manager): old and new CA
# during a rotation. A whole-object volume (no subPath), so the kubelet's updates reach the gateway's reload.
- name: {{ include "mtls-gateway.caBundleVolume" $endpoint.name }}
  {{- if .configMap }}
  configMap:
    name: {{ .configMap }}
  {{- else }}
  secret:
    secretName: {{ .secret }}
  {{- end }}
    items:
      - key: {{ .key | default "ca.crt" | quote }}
        path: ca.crt
    defaultMode: 292  # 0444: certificates only, no key
{{- end }}
{{- end }}
{{- if .Values.store.sealKeys.existingSecret }}
- name: seal-keys
  secret:
    secretName: {{ .Values.store.sealKeys.existingSecret }}
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- with include "mtls-gateway.redisTlsSecret" . }}
- name: redis-tls
  secret:
    secretName: {{ . }}
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- if .Values.interception.caSecretName }}
- name: interception-ca
  secret:
    secretName: {{ .Values.interception.caSecretName }}
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- with .Values.gateway.consoleToken }}
{{- if .existingSecret }}
# A mounted Secret follows rotation (the kubelet rewrites it; the gateway reloads); an env var would not.
- name: console-token
  secret:
    secretName: {{ .existingSecret }}
    items:
      - key: {{ .existingSecretKey }}
        path: token
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- end }}
{{- with .Values.gateway.adminTls }}
{{- if .secretName }}
- name: admin-tls
  secret:
    secretName: {{ .secretName }}
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- if .clientCaSecret }}
- name: admin-client-ca
  secret:
    secretName: {{ .clientCaSecret }}
    items:
      - key: {{ .clientCaKey }}
        path: ca.crt
    defaultMode: 288  # 0440: owner and fsGroup read
{{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* The gateway pods' egress rules (networkPolicy): the `helm test` pod's policy has the same, so it reaches what they reach and no more. */}}
{{- define "mtls-gateway.egressRules" -}}
{{- $np := .Values.networkPolicy }}
{{- if $np.dns.enabled }}
# DNS (networkPolicy.dns): the DNS pods and cidrs (NodeLocal DNSCache's link-local address).
- to:
    {{- include "mtls-gateway.dnsPeers" . | nindent 4 }}
  ports:
    {{- range ($np.dns.ports | default (list 53)) }}
    - port: {{ int . }}
      protocol: UDP
    - port: {{ int . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- range .Values.endpoints }}
{{- $egress := .egress | default dict }}
{{- $cidrs := $egress.cidrs | default list }}
{{- if and (not $cidrs) .resolve }}
{{- $cidrs = list (printf "%s/%s" .resolve (ternary "128" "32" (contains ":" .resolve))) }}
{{- end }}
{{- $ports := $egress.ports | default (list (include "mtls-gateway.urlPort" .url)) }}
# Endpoint {{ .name | quote }}: {{ .url }}
- ports:
    {{- range $ports }}
    - port: {{ int . }}
      protocol: TCP
    {{- end }}
  {{- if $cidrs }}
  to:
    {{- range $cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- $viaPorts := dict }}
{{- range .Values.endpoints }}
{{- if and .via .via.url }}
{{- $_ := set $viaPorts (include "mtls-gateway.urlPort" .via.url) true }}
{{- end }}
{{- end }}
{{- if $viaPorts }}
# Upstream HTTP proxies (connectors) that endpoints reach their backend through (endpoints[].via).
- ports:
    {{- range $port, $_ := $viaPorts }}
    - port: {{ int $port }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- $passPorts := dict }}
{{- with .Values.config.interception }}
{{- range (.passThrough | default list) }}
{{- $_ := set $passPorts (toString (.port | default 443)) true }}
{{- end }}
{{- end }}
{{- if $passPorts }}
# CONNECT pass-through targets (config.interception.passThrough): tunnelled untouched.
- ports:
    {{- range $port, $_ := $passPorts }}
    - port: {{ int $port }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- $tokenPorts := dict }}
{{- range (.Values.config.profiles | default list) }}
{{- range $u := list .requestTokenUrl .accessTokenUrl }}
{{- if $u }}
{{- $_ := set $tokenPorts (include "mtls-gateway.urlPort" $u) true }}
{{- end }}
{{- end }}
{{- end }}
{{- if $tokenPorts }}
# OAuth 1.0a token URLs of the profiles.
- ports:
    {{- range $port, $_ := $tokenPorts }}
    - port: {{ int $port }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- $tracing := .Values.config.tracing | default dict }}
{{- if and $np.otlp.enabled $tracing.enabled $tracing.otlp $tracing.otlp.endpoint }}
# The OTLP collector spans are exported to (config.tracing.otlp.endpoint).
- ports:
    - port: {{ int (include "mtls-gateway.urlPort" $tracing.otlp.endpoint) }}
      protocol: TCP
  {{- with $np.otlp.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- if eq .Values.store.kind "redis" }}
# The Redis store ({{ .Values.store.redis.mode }}): the data port and the Sentinel / Cluster nodes' ports.
- ports:
    {{- range splitList "," (include "mtls-gateway.redisPorts" .) }}
    - port: {{ int . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- with $np.extraEgress }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/*
The `helm test` pod's labels: never the gateway pods' selector (the Service would send callers to
it), so its name label is the chart's with "-connection-test".
*/}}
{{- define "mtls-gateway.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-connection-test" (include "mtls-gateway.name" . | trunc 47 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The `helm test` pod's own labels: podLabels, then helmTest.podLabels over them, then the chart's
test labels over both. Policies outside the chart often pick the gateway's pods by a podLabel (the
backend's or connector's NetworkPolicy, a cluster-wide egress policy, an egress gateway or egress
IP that gives the partner's firewall a fixed source address): without it the test pod was held
back where the gateway is let through, and failed while the gateway worked. Its name label stays
the test's, so no selector of the chart (Service, PodDisruptionBudget, NetworkPolicy) takes it.
*/}}
{{- define "mtls-gateway.testPodLabels" -}}
{{- $labels := mergeOverwrite (deepCopy (.Values.podLabels | default dict)) (deepCopy (.Values.helmTest.podLabels | default dict)) }}
{{- toYaml (mergeOverwrite $labels (include "mtls-gateway.testLabels" . | fromYaml)) }}
{{- end }}

{{/*
The `helm test` pod's annotations, as its labels: podAnnotations, then helmTest.podAnnotations over
them, then the test hook's own over both (a helm.sh/hook* key in either map is refused). The
gateway's pods get theirs for the pod they are (a mesh's or a secrets agent's injection, an egress
policy's or an autoscaler's say): without them the test pod ran outside what the gateway runs inside. The config checksums stay the Deployment's.
*/}}
{{- define "mtls-gateway.testPodAnnotations" -}}
{{- include "mtls-gateway.refuseHookKeys" (list "podAnnotations" .Values.podAnnotations) }}
{{- include "mtls-gateway.refuseHookKeys" (list "helmTest.podAnnotations" .Values.helmTest.podAnnotations) }}
{{- $annotations := mergeOverwrite (deepCopy (.Values.podAnnotations | default dict)) (deepCopy (.Values.helmTest.podAnnotations | default dict)) }}
{{- $own := include "mtls-gateway.testHook" . | fromYaml }}
{{- /* Helm from 3.18 prints a failed test pod's logs (older releases ignore the annotation; Helm reads it on Pods and Jobs only). */}}
{{- $_ := set $own "helm.sh/hook-output-log-policy" "hook-failed" }}
{{- toYaml (mergeOverwrite $annotations $own) }}
{{- end }}

{{/*
Refuses Helm's hook annotations (helm.sh/hook, helm.sh/hook-*) in a map the test pod carries (call
with (list "<values key>" <map>)): they are the chart's to set on its test hook. A hook-weight below
the policy's -1 would create the pod before its NetworkPolicy, another hook or delete policy would
change when Helm runs and deletes it.
*/}}
{{- define "mtls-gateway.refuseHookKeys" -}}
{{- $from := index . 0 }}
{{- range $key, $_ := (index . 1 | default dict) }}
{{- if or (eq $key "helm.sh/hook") (hasPrefix "helm.sh/hook-" $key) }}
{{- fail (printf "%s sets %s, a Helm hook annotation, which the chart sets itself on its helm test hook (the test pod carries podAnnotations and helmTest.podAnnotations): a helm.sh/hook-weight below -1 would start the pod before its NetworkPolicy, another hook, delete or log policy would change when Helm runs it and what it keeps. Remove %s from %s." $from $key $key $from) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The test hook's lifecycle, the pod's and its NetworkPolicy's alike: `helm test` creates them (the
policy first, by its lower hook-weight), replaces what an earlier run left, and once every test
hook has passed deletes both; a failed pod is kept for `kubectl logs` (Helm from 3.19 still
deletes the policy, which a finished pod no longer needs).
*/}}
{{- define "mtls-gateway.testHook" -}}
helm.sh/hook: test
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{- define "mtls-gateway.testLabels" -}}
helm.sh/chart: {{ include "mtls-gateway.chart" . }}
{{ include "mtls-gateway.testSelectorLabels" . }}
app.kubernetes.io/component: connection-test
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimAll "-_." | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mtls-gateway
{{- end }}
