{{/*
Helpers. Kept to Helm's portable subset (text/template + sprig + include/tpl/toYaml/required/fail):
no lookup, no .Files, no subcharts, so the test-only renderer in test/support/helm-render is faithful.
*/}}

{{/* Chart name, truncated to a DNS label. */}}
{{- define "mtls-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "mtls-gateway.fullname" -}}
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

{{- define "mtls-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mtls-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mtls-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mtls-gateway.labels" -}}
helm.sh/chart: {{ include "mtls-gateway.chart" . }}
{{ include "mtls-gateway.selectorLabels" . }}
{{- /* A label value: at most 63 characters, alphanumeric at both ends (a tag may be 128, start with "_", end with "." or "-"). */}}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimAll "-_." | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mtls-gateway
{{- end }}

{{- define "mtls-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mtls-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository@digest, else registry/repository:tag (appVersion by default); no registry: the repository as it is. */}}
{{- define "mtls-gateway.image" -}}
{{- $image := .Values.image }}
{{- $name := $image.repository }}
{{- with $image.registry }}
{{- $name = printf "%s/%s" . $name }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $name $image.digest }}
{{- else }}
{{- printf "%s:%s" $name ($image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Refuses image.registry with a repository that names a registry of its own: the first part of a
reference is a registry when it has a "." or ":" or is localhost (the container runtimes' rule),
so registry/repository would name a repository that exists nowhere (ImagePullBackOff).
*/}}
{{- define "mtls-gateway.validateImage" -}}
{{- $image := .Values.image }}
{{- if and $image.registry (contains "/" $image.repository) }}
{{- $head := first (splitList "/" $image.repository) }}
{{- if or (contains "." $head) (contains ":" $head) (eq $head "localhost") }}
{{- fail (printf "image.registry is %q but image.repository already names a registry (%q): the image would be %s/%s. Give the registry once: image.registry: %s with image.repository: %s, or image.registry empty." $image.registry $head $image.registry $image.repository $head (trimPrefix (printf "%s/" $head) $image.repository)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where things are mounted in the container. */}}
{{- define "mtls-gateway.configDir" -}}/etc/mtls-gateway/config{{- end }}
{{- define "mtls-gateway.endpointsDir" -}}/etc/mtls-gateway/endpoints{{- end }}
{{- define "mtls-gateway.sealKeysDir" -}}/etc/mtls-gateway/seal-keys{{- end }}
{{- define "mtls-gateway.stateDir" -}}/var/lib/mtls-gateway{{- end }}
{{- define "mtls-gateway.caBundlesDir" -}}/etc/mtls-gateway/ca-bundles{{- end }}

{{/* The Secret holding the Redis URL. */}}
{{- define "mtls-gateway.redisSecretName" -}}
{{- if .Values.store.redis.existingSecret }}
{{- .Values.store.redis.existingSecret }}
{{- else }}
{{- include "mtls-gateway.childName" (list . "redis") }}
{{- end }}
{{- end }}

{{/*
A derived object name, "<fullname>-<suffix>" within 63 characters: the full name is cut to make
room, so the suffix survives and the name never equals the full name. Call with (list . "suffix").
*/}}
{{- define "mtls-gateway.childName" -}}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "mtls-gateway.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/*
A Service's IP families (service.ipFamilyPolicy, service.ipFamilies), for both Services: nothing
when unset, and the cluster gives its primary family (IPv6 on an IPv6-only cluster).
*/}}
{{- define "mtls-gateway.ipFamilies" -}}
{{- with .Values.service.ipFamilyPolicy }}
ipFamilyPolicy: {{ . }}
{{- end }}
{{- with .Values.service.ipFamilies }}
ipFamilies:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Where the interception CA Secret (interception.caSecretName) is mounted. */}}
{{- define "mtls-gateway.interceptionCaDir" -}}/etc/mtls-gateway/interception-ca{{- end }}

{{/* Where the console token and the admin listener's TLS Secrets are mounted (gateway.consoleToken, gateway.adminTls). */}}
{{- define "mtls-gateway.consoleTokenDir" -}}/etc/mtls-gateway/console-token{{- end }}
{{- define "mtls-gateway.adminTlsDir" -}}/etc/mtls-gateway/admin-tls{{- end }}
{{- define "mtls-gateway.adminClientCaDir" -}}/etc/mtls-gateway/admin-client-ca{{- end }}

{{/*
A probe from values, over HTTPS when the admin port serves TLS (an httpGet probe on another
scheme would fail every check). Call with (list . .Values.livenessProbe).
*/}}
{{- define "mtls-gateway.probe" -}}
{{- $probe := deepCopy (index . 1) }}
{{- if and (index . 0).Values.gateway.adminTls.secretName $probe.httpGet }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/*
"true" when callers can use the proxy without credentials and nothing else limits who reaches it:
no config.callers section (or callers.required: false) and no NetworkPolicy ingressFrom peers.
*/}}
{{- define "mtls-gateway.openProxy" -}}
{{- $callers := .Values.config.callers }}
{{- $noCallers := or (not $callers) (and (hasKey $callers "required") (not $callers.required)) }}
{{- $noPeers := or (not .Values.networkPolicy.enabled) (not .Values.networkPolicy.ingressFrom) }}
{{- if and $noCallers $noPeers }}true{{ end }}
{{- end }}

{{/* Volume name of an endpoint's bundle Secret. */}}
{{- define "mtls-gateway.endpointVolume" -}}
{{- printf "tls-%s" (. | lower | replace "_" "-" | replace "." "-") | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Volume name of an endpoint's CA bundle (tls.caBundle): distinct whenever the bundle volumes are ("ca-" keeps one character more). */}}
{{- define "mtls-gateway.caBundleVolume" -}}
{{- printf "ca-%s" (. | lower | replace "_" "-" | replace "." "-") | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ConfigMaps the endpoints' CA bundles name, each after a space ("" when none): for NOTES' check command. */}}
{{- define "mtls-gateway.caBundleMaps" -}}
{{- range .Values.endpoints }}{{ with .tls.caBundle }}{{ with .configMap }} {{ . }}{{ end }}{{ end }}{{ end }}
{{- end }}

{{/*
Refuses a tls.caBundle that cannot work: it names one source, a ConfigMap or a Secret, and it is
the server's roots, so tls.roots beside it would give them twice.
*/}}
{{- define "mtls-gateway.validateCaBundle" -}}
{{- with .tls.caBundle }}
{{- if eq (len (compact (list (.configMap | default "") (.secret | default "")))) 2 }}
{{- fail (printf "endpoint %q: tls.caBundle names both a ConfigMap (%s) and a Secret (%s): give the CA bundle's one source." $.name .configMap .secret) }}
{{- end }}
{{- if not (or .configMap .secret) }}
{{- fail (printf "endpoint %q: tls.caBundle needs configMap or secret: the object holding the PEM bundle of the server's roots (a trust-manager Bundle's target)." $.name) }}
{{- end }}
{{- if hasKey $.tls "roots" }}
{{- fail (printf "endpoint %q: tls.caBundle and tls.roots both give the server's roots: keep one (tls.caBundle mounts the bundle and writes it as tls.roots)." $.name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuses values that cannot work, with a message naming the fix. Included by every manifest
that depends on them, so `helm template` and `helm install` stop before anything is applied.
*/}}
{{- define "mtls-gateway.validate" -}}
{{- include "mtls-gateway.validateImage" . }}
{{- include "mtls-gateway.validateDns" . }}
{{- if eq (int .Values.gateway.port) (int .Values.gateway.adminPort) }}
{{- fail (printf "gateway.adminPort (%d) is gateway.port too: the admin listener could not bind it (address already in use) and every pod would stop at start. Give the admin listener a port of its own." (int .Values.gateway.adminPort)) }}
{{- end }}
{{- range .Values.endpoints }}
{{- $tls := .tls | default dict }}
{{- if and $tls.secretName (or $tls.cert $tls.key $tls.pkcs12 $tls.dir) }}
{{- fail (printf "endpoints %q: tls.secretName mounts the client bundle as a directory (the gateway's tls.dir); give it alone, without tls.cert, tls.key, tls.pkcs12 or tls.dir, or the gateway refuses the config (one bundle per endpoint) and every pod stops at start." .name) }}
{{- end }}
{{- end }}
{{- $kind := .Values.store.kind }}
{{- if and (eq $kind "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d but store.kind is \"sqlite\": the SQLite store is one file on one pod, so several replicas need the Redis store. Set store.kind=redis (with store.redis.existingSecret) or replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $kind "sqlite") .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled is true but store.kind is \"sqlite\": the HorizontalPodAutoscaler adds replicas, which need the Redis store. Set store.kind=redis or autoscaling.enabled=false." }}
{{- end }}
{{- if eq $kind "redis" }}
{{- include "mtls-gateway.validateRedis" . }}
{{- end }}
{{- include "mtls-gateway.validatePdb" . }}
{{- include "mtls-gateway.validateAutoscaling" . }}
{{- include "mtls-gateway.validateWorkers" . }}
{{- include "mtls-gateway.validateSecurityContext" . }}
{{- /* With workers the primary kills a worker still draining 5 s after the grace (a stuck one), then exits 1 with its lines: the pod must outlive that too. */}}
{{- /* With one process, the drain's end after the grace takes about 2 s (0.5 s for answers being written, 1 s for each to leave, the exit), more on a busy node: 3 s. */}}
{{- $withWorkers := gt (int .Values.gateway.workers) 1 }}
{{- $afterGrace := ternary 5 3 $withWorkers }}
{{- $needed := add (int .Values.gateway.drainGraceSeconds) (int .Values.preStopSleepSeconds) $afterGrace }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- if $withWorkers }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + gateway.drainGraceSeconds + 5 (%d) with gateway.workers above 1: the gateway kills a worker still draining 5 s after the grace, and Kubernetes would kill the pod first (exit 137, the gateway's last lines lost)." (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + gateway.drainGraceSeconds + 3 (%d): after the grace the gateway takes about 2 s to end its drain (answers still leaving get 1 s) and exit, more on a busy node, and Kubernetes would kill it first (exit 137, the gateway's last lines lost)." (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- if and (include "mtls-gateway.openProxy" .) (not .Values.allowOpenProxy) }}
{{- fail "this release would be an open proxy: any pod that reaches the Service could make calls with the endpoints' client certificates and credentials. Configure callers (config.callers.apps, with callers.required true, the default) or restrict who may connect (networkPolicy.enabled with networkPolicy.ingressFrom peers); or, for a trusted network only, set allowOpenProxy=true." }}
{{- end }}
{{- include "mtls-gateway.validateScrapeTimeout" . }}
{{- if and .Values.serviceMonitor.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.metricsFrom) }}
{{- fail "serviceMonitor.enabled needs networkPolicy.metricsFrom peers while networkPolicy.enabled: with none the NetworkPolicy admits no pod to the admin port, so Prometheus could not scrape it. List Prometheus's pods or namespace (e.g. - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}); every pod of the cluster only if written out: - namespaceSelector: {}" }}
{{- end }}
{{- if and .Values.config.interception (not .Values.interception.caSecretName) }}
{{- if not (and (hasKey .Values.config.interception "caCert") (hasKey .Values.config.interception "caKey")) }}
{{- fail "config.interception needs its CA: set interception.caSecretName (a Secret with tls.crt and tls.key), or config.interception.caCert and caKey with your own extraVolumes." }}
{{- end }}
{{- end }}
{{- if and .Values.interception.caSecretName .Values.config.interception }}
{{- if or (hasKey .Values.config.interception "caCert") (hasKey .Values.config.interception "caKey") }}
{{- fail "interception.caSecretName is set, and so is config.interception.caCert/caKey: give the interception CA once (the Secret), and leave caCert and caKey out of config.interception." }}
{{- end }}
{{- end }}
{{- with .Values.gateway.adminTls }}
{{- if and .clientCaSecret (not .secretName) }}
{{- fail "gateway.adminTls.clientCaSecret is set but gateway.adminTls.secretName is not: client certificates need the admin port to serve TLS. Set secretName (a Secret with tls.crt and tls.key) or leave clientCaSecret empty." }}
{{- end }}
{{- if and (or .clientSubjects .clientSans) (not .clientCaSecret) }}
{{- fail "gateway.adminTls.clientSubjects/clientSans need gateway.adminTls.clientCaSecret: client certificates are verified against that CA before a subject or name counts." }}
{{- end }}
{{- if and .clientCaSecret (not (or .clientSubjects .clientSans)) }}
{{- fail "gateway.adminTls.clientCaSecret is set but neither clientSubjects nor clientSans: no client certificate would open the console. Name the operators' subjects or subjectAltNames, or leave clientCaSecret empty." }}
{{- end }}
{{- end }}
{{- $seen := dict }}
{{- $volumes := dict }}
{{- range .Values.endpoints }}
{{- if hasKey $seen .name }}
{{- fail (printf "endpoints: the name %q appears twice" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- $volume := include "mtls-gateway.endpointVolume" .name }}
{{- if hasKey $volumes $volume }}
{{- fail (printf "endpoints %q and %q both map to the volume name %q (names are lower-cased, \"_\" and \".\" become \"-\", and the result is cut to 63 characters): rename one of them." (get $volumes $volume) .name $volume) }}
{{- end }}
{{- $_ := set $volumes $volume .name }}
{{- if not .tls }}
{{- fail (printf "endpoint %q: tls is required (tls.secretName names the Secret with tls.crt, tls.key and ca.crt)" .name) }}
{{- end }}
{{- include "mtls-gateway.validateCaBundle" . }}
{{- end }}
{{- end }}

{{/*
The gateway's YAML (docs/config-reference.md): .Values.config with the chart-managed keys
(listen host/port, admin, drain, store, endpoints) written over it.
*/}}
{{- define "mtls-gateway.config" -}}
{{- $store := dict "kind" .Values.store.kind }}
{{- if eq .Values.store.kind "redis" }}
{{- $store = mergeOverwrite $store (include "mtls-gateway.redisStore" . | fromYaml) }}
{{- else }}
{{- $_ := set $store "file" (printf "%s/gateway.db" (include "mtls-gateway.stateDir" .)) }}
{{- end }}
{{- if .Values.store.sealKeys.ids }}
{{- $keys := list }}
{{- range .Values.store.sealKeys.ids }}
{{- $keys = append $keys (dict "id" . "key" (printf "${file:%s/%s}" (include "mtls-gateway.sealKeysDir" $) .)) }}
{{- end }}
{{- $_ := set $store "sealKeys" $keys }}
{{- with .Values.store.sealKeys.active }}
{{- $_ := set $store "activeKey" . }}
{{- end }}
{{- end }}
{{- $endpoints := list }}
{{- range .Values.endpoints }}
{{- $e := omit . "egress" }}
{{- $tls := omit .tls "secretName" "caBundle" }}
{{- if .tls.secretName }}
{{- $_ := set $tls "dir" (printf "%s/%s" (include "mtls-gateway.endpointsDir" $) .name) }}
{{- end }}
{{- if .tls.caBundle }}
{{- $_ := set $tls "roots" (printf "%s/%s/ca.crt" (include "mtls-gateway.caBundlesDir" $) .name) }}
{{- end }}
{{- $_ := set $e "tls" $tls }}
{{- $endpoints = append $endpoints $e }}
{{- end }}
{{- $cfg := dict }}
{{- with .Values.interception.caSecretName }}
{{- $ca := dict "caCert" (printf "%s/tls.crt" (include "mtls-gateway.interceptionCaDir" $)) "caKey" (printf "%s/tls.key" (include "mtls-gateway.interceptionCaDir" $)) }}
{{- $_ := set $cfg "interception" (mergeOverwrite (deepCopy ($.Values.config.interception | default dict)) $ca) }}
{{- end }}
{{- $_ := set $cfg "listen" (dict "host" .Values.gateway.listenHost "port" (int .Values.gateway.port) "waysIn" .Values.gateway.waysIn) }}
{{- /* The gateway refuses an unauthenticated listener on a non-loopback address unless the file says so: the
     release got past mtls-gateway.validate's open-proxy check (peers, or allowOpenProxy), so say so. */}}
{{- if not .Values.config.callers }}
{{- $_ := set $cfg "callers" (dict "required" false) }}
{{- end }}
{{- $admin := dict "host" .Values.gateway.listenHost "port" (int .Values.gateway.adminPort) "enabled" true }}
{{- with .Values.gateway.adminAllowedHosts }}
{{- $_ := set $admin "allowedHosts" . }}
{{- end }}
{{- with .Values.gateway.consoleOrigins }}
{{- $_ := set $admin "consoleOrigins" . }}
{{- end }}
{{- if .Values.gateway.consoleToken.existingSecret }}
{{- $_ := set $admin "token" (printf "${file:%s/token}" (include "mtls-gateway.consoleTokenDir" .)) }}
{{- end }}
{{- with .Values.gateway.adminTls }}
{{- if .secretName }}
{{- $tls := dict "cert" (printf "%s/tls.crt" (include "mtls-gateway.adminTlsDir" $)) "key" (printf "%s/tls.key" (include "mtls-gateway.adminTlsDir" $)) }}
{{- if .clientCaSecret }}
{{- $_ := set $tls "clientCa" (printf "%s/ca.crt" (include "mtls-gateway.adminClientCaDir" $)) }}
{{- $_ := set $tls "clientSubjects" (.clientSubjects | default list) }}
{{- $_ := set $tls "clientSans" (.clientSans | default list) }}
{{- end }}
{{- $_ := set $admin "tls" $tls }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "admin" $admin }}
{{- $_ := set $cfg "drain" (dict "grace" (printf "%ds" (int .Values.gateway.drainGraceSeconds))) }}
{{- $_ := set $cfg "store" $store }}
{{- $_ := set $cfg "endpoints" $endpoints }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $cfg) }}
{{- end }}

{{/* The TCP port of an http(s) URL: explicit, else 443 / 80. Tolerates {tenant} placeholders in the host. */}}
{{- define "mtls-gateway.urlPort" -}}
{{- $hostport := regexReplaceAll "^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*).*$" . "${1}" }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $hostport) }}
{{- if $port }}{{ $port }}{{ else if hasPrefix "http://" (lower .) }}80{{ else }}443{{ end }}
{{- end }}

{{/*
A Prometheus duration ("30s", "1m30s", "500ms") in milliseconds, as text; "" when it is none.
Prometheus's units: ms, s, m, h, d, w, y ("ms" is tried before "m").
*/}}
{{- define "mtls-gateway.durationMs" -}}
{{- $text := toString . }}
{{- if regexMatch "^([0-9]+(ms|s|m|h|d|w|y))+$" $text }}
{{- $ms := 0 }}
{{- $per := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" $text -1 }}
{{- $unit := regexFind "[a-z]+$" . }}
{{- $ms = add $ms (mul (int64 (trimSuffix $unit .)) (get $per $unit)) }}
{{- end }}
{{- $ms }}
{{- end }}
{{- end }}

{{/*
Refuses a ServiceMonitor whose scrapeTimeout is longer than its interval: Prometheus refuses that
scrape config ("scrape timeout greater than scrape interval") and the Prometheus Operator rejects
the ServiceMonitor, so the gateway would silently go unscraped. A timeout equal to the interval is
Prometheus's own limit and passes.
*/}}
{{- define "mtls-gateway.validateScrapeTimeout" -}}
{{- $sm := .Values.serviceMonitor }}
{{- if $sm.enabled }}
{{- $interval := include "mtls-gateway.durationMs" $sm.interval }}
{{- $timeout := include "mtls-gateway.durationMs" $sm.scrapeTimeout }}
{{- if and $interval $timeout (gt (int64 $timeout) (int64 $interval)) }}
{{- fail (printf "serviceMonitor.scrapeTimeout (%s) is longer than serviceMonitor.interval (%s): Prometheus refuses a scrape whose timeout exceeds its interval (\"scrape timeout greater than scrape interval\") and the Prometheus Operator rejects the ServiceMonitor, so the gateway would not be scraped. Set scrapeTimeout to at most %s, or raise the interval." (toString $sm.scrapeTimeout) (toString $sm.interval) (toString $sm.interval)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuses a PodDisruptionBudget that allows no eviction at the release's fewest replicas
(replicaCount, or autoscaling.minReplicas under the HPA): kubectl drain and node upgrades would
wait for ever. Percentages round up, as Kubernetes rounds them.
*/}}
{{- define "mtls-gateway.validatePdb" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- $n := int (ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled) }}
{{- if and $pdb.enabled (gt $n 0) }}
{{- $useMin := and (not (kindIs "invalid" $pdb.minAvailable)) (ne (toString $pdb.minAvailable) "") }}
{{- $key := ternary "minAvailable" "maxUnavailable" $useMin }}
{{- $raw := toString (ternary $pdb.minAvailable $pdb.maxUnavailable $useMin) }}
{{- $count := int $raw }}
{{- if hasSuffix "%" $raw }}
{{- $count = div (add (mul (int (trimSuffix "%" $raw)) $n) 99) 100 }}
{{- end }}
{{- $evictable := ternary (sub $n $count) $count $useMin }}
{{- if le (int $evictable) 0 }}
{{- fail (printf "podDisruptionBudget.%s %s allows no pod to be evicted at %d replica(s) (%s): kubectl drain and node upgrades would wait for ever. Leave minAvailable empty with maxUnavailable: 1 (the default), or run more replicas." $key $raw $n (ternary "autoscaling.minReplicas" "replicaCount" .Values.autoscaling.enabled)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuses a HorizontalPodAutoscaler that cannot scale: a utilization target is a percentage of the
pods' request, so without resources.requests.<resource> the HPA reports FailedGetResourceMetric
and never acts; minReplicas above maxReplicas is refused by the API server; no target at all
would silently become Kubernetes' default (80% CPU).
*/}}
{{- define "mtls-gateway.validateAutoscaling" -}}
{{- $a := .Values.autoscaling }}
{{- if $a.enabled }}
{{- $requests := .Values.resources.requests | default dict }}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)." (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- end }}
{{- if not (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage) }}
{{- fail "autoscaling.enabled needs a target: set autoscaling.targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage (each a percentage of resources.requests)." }}
{{- end }}
{{- range $key, $resource := dict "targetCPUUtilizationPercentage" "cpu" "targetMemoryUtilizationPercentage" "memory" }}
{{- if and (get $a $key) (not (get $requests $resource)) }}
{{- fail (printf "autoscaling.%s is set but resources.requests.%s is not: the target is a percentage of that request, so the HorizontalPodAutoscaler could not compute it and would never scale. Set resources.requests.%s, or set the target to 0." $key $resource $resource) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The chart's labels with a values map of extra labels over them, each key once (written as two
blocks, a key in both was in the manifest twice: the last one won, or a strict YAML reader
refused it). Call with (list . map).
*/}}
{{- define "mtls-gateway.labelsWith" -}}
{{- toYaml (mergeOverwrite (include "mtls-gateway.labels" (index . 0) | fromYaml) (deepCopy (index . 1 | default dict))) }}
{{- end }}

{{/*
The pod template's labels: the selector labels and podLabels, each key once. Refuses podLabels
that change a selector label: the pods would not match the Deployment's selector, which the API
server refuses, and the selector cannot change on upgrade.
*/}}
{{- define "mtls-gateway.podLabels" -}}
{{- $own := include "mtls-gateway.selectorLabels" . | fromYaml }}
{{- range $key, $value := .Values.podLabels }}
{{- if and (hasKey $own $key) (ne (toString $value) (get $own $key)) }}
{{- fail (printf "podLabels sets %s: %q, but the chart sets that label to %q: it is part of the Deployment's selector, which the pods must match and which cannot change on upgrade. Remove it from podLabels (nameOverride or the release name set it)." $key (toString $value) (get $own $key)) }}
{{- end }}
{{- end }}
{{- toYaml (merge (deepCopy $own) (.Values.podLabels | default dict)) }}
{{- end }}

{{/*
The pod template's annotations: the chart's checksums and podAnnotations, each key once (written
as two blocks, a key in both was in the manifest twice, and which one counted was the reader's
choice). Refuses a podAnnotation that gives a checksum of the chart another value: the checksum is
what rolls the pods when the config (or the chart-made Redis Secret) changes, and with a value of
the operator's a changed config would no longer roll them. Refuses Helm's hook annotations in
podAnnotations and helmTest.podAnnotations too, with helmTest off as well (the test pod carries
both: mtls-gateway.refuseHookKeys).
*/}}
{{- define "mtls-gateway.podAnnotations" -}}
{{- $own := dict "checksum/config" (include "mtls-gateway.config" . | sha256sum) }}
{{- $of := dict "checksum/config" "the gateway's config" }}
{{- with include "mtls-gateway.redisSecretMark" . }}
{{- $_ := set $own "checksum/redis-secret" . }}
{{- $_ := set $of "checksum/redis-secret" "the chart-made Redis Secret" }}
{{- end }}
{{- range $key, $value := .Values.podAnnotations }}
{{- if and (hasKey $own $key) (ne (toString $value) (get $own $key)) }}
{{- fail (printf "podAnnotations sets %s, an annotation the chart sets itself: the checksum of %s, which rolls the pods when it changes (yours would replace it, and a change would no longer roll them). Remove %s from podAnnotations; to roll the pods at will, give another key (e.g. rolledAt: a timestamp) or run kubectl rollout restart." $key (get $of $key) $key) }}
{{- end }}
{{- end }}
{{- include "mtls-gateway.refuseHookKeys" (list "podAnnotations" .Values.podAnnotations) }}
{{- include "mtls-gateway.refuseHookKeys" (list "helmTest.podAnnotations" .Values.helmTest.podAnnotations) }}
{{- toYaml (merge (deepCopy $own) (.Values.podAnnotations | default dict)) }}
{{- end }}

{{/*
gateway.workers within resources.limits.cpu, rounded up (500m → 1, 1.5 → 2, 2000m → 2): workers
past the CPU quota never run at once, they take turns in it (CFS throttling: latency spikes) while
each holds its own memory. No CPU limit: nothing to check.
*/}}
{{- define "mtls-gateway.validateWorkers" -}}
{{- $limits := (.Values.resources | default dict).limits | default dict }}
{{- if hasKey $limits "cpu" }}
{{- $raw := toString $limits.cpu }}
{{- $cpus := 0 }}
{{- if hasSuffix "m" $raw }}
{{- $cpus = div (add (int64 (trimSuffix "m" $raw)) 999) 1000 }}
{{- else }}
{{- $cpus = int64 (ceil (float64 $raw)) }}
{{- end }}
{{- if gt (int64 .Values.gateway.workers) (int64 $cpus) }}
{{- fail (printf "gateway.workers is %d but resources.limits.cpu is %s (%d CPU, rounded up): workers past the CPU limit never run at once, they take turns in the quota (CFS throttling, latency spikes) while each holds its own memory (up to config.limits.maxBufferedTotal of bodies). Set gateway.workers to at most %d, or raise resources.limits.cpu." (int64 .Values.gateway.workers) $raw (int64 $cpus) (int64 $cpus)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The gateway container never needs privileges: refuses privileged, added capabilities and
allowPrivilegeEscalation other than false (Kubernetes allows escalation when it is left out)
unless allowUnsafeSecurityContext is true.
*/}}
{{- define "mtls-gateway.validateSecurityContext" -}}
{{- if not .Values.allowUnsafeSecurityContext }}
{{- $sc := .Values.securityContext | default dict }}
{{- $unsafe := list }}
{{- if $sc.privileged }}
{{- $unsafe = append $unsafe "privileged: true" }}
{{- end }}
{{- if ne (toString $sc.allowPrivilegeEscalation) "false" }}
{{- $unsafe = append $unsafe (printf "allowPrivilegeEscalation: %s (must be false)" (ternary "unset" (toString $sc.allowPrivilegeEscalation) (not (hasKey $sc "allowPrivilegeEscalation")))) }}
{{- end }}
{{- with ($sc.capabilities | default dict).add }}
{{- $unsafe = append $unsafe (printf "capabilities.add: [%s]" (join ", " .)) }}
{{- end }}
{{- if $unsafe }}
{{- fail (printf "securityContext sets %s: the gateway container needs no privilege (it binds unprivileged ports and drops ALL capabilities), and a privileged or escalating container holding the endpoints' client keys widens what a compromise of it reaches. Remove it, or set allowUnsafeSecurityContext=true if you must." (join "; " $unsafe)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
An alert's labels: its severity, then prometheusRule.additionalAlertLabels, which may replace it (a
`severity` there applies to every alert; written beside the alert's own it was a duplicate key,
which strict YAML readers refuse and others resolve either way).
*/}}
{{- define "mtls-gateway.alertLabels" -}}
{{- toYaml (mergeOverwrite (dict "severity" (index . 0)) (deepCopy (index . 1))) }}
{{- end }}

{{/*
An alert's runbook_url annotation: prometheusRule.runbookBaseUrl (docs/deploy.md where you serve
the docs) and the alert's anchor in its alert table, the alert's name in lower case. Nothing
without a base: the chart cannot know where the docs are served. Args: (list $prometheusRule "AlertName");
it starts a new line at the indentation of a rule's annotations (12).
*/}}
{{- define "mtls-gateway.runbookUrl" -}}
{{- $base := (index . 0).runbookBaseUrl | default "" -}}
{{- with $base }}{{ printf "runbook_url: %s" (printf "%s#%s" . (lower (index $ 1)) | quote) | nindent 12 }}{{ end -}}
{{- end }}

{{/*
The NetworkPolicy's DNS peers: the pods of networkPolicy.dns.namespaceSelector + podSelector
(either may be null) and the dns.cidrs, as the rule's `to` list in YAML; "[]" when none, which
validateDns refuses: a rule without `to` would admit the port anywhere (0.0.0.0/0 must be asked for).
*/}}
{{- define "mtls-gateway.dnsPeers" -}}
{{- $dns := .Values.networkPolicy.dns }}
{{- $selectors := dict }}
{{- range $key := list "namespaceSelector" "podSelector" }}
{{- if not (kindIs "invalid" (index $dns $key)) }}
{{- $_ := set $selectors $key (index $dns $key) }}
{{- end }}
{{- end }}
{{- $peers := list }}
{{- if $selectors }}
{{- $peers = append $peers $selectors }}
{{- end }}
{{- range ($dns.cidrs | default list) }}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}
{{- end }}
{{- toYaml $peers }}
{{- end }}

{{/*
Helm merges maps: a podSelector (namespaceSelector) of the operator's keeps the chart's default
k8s-app: kube-dns (kubernetes.io/metadata.name: kube-system) beside its own terms, and the DNS
pods, which carry only one of them, match nothing. Refused, naming the null that replaces it.
*/}}
{{- define "mtls-gateway.validateDns" -}}
{{- if and .Values.networkPolicy.enabled .Values.networkPolicy.dns.enabled }}
{{- $dns := .Values.networkPolicy.dns }}
{{- range $key, $default := dict "namespaceSelector" (list "kubernetes.io/metadata.name" "kube-system") "podSelector" (list "k8s-app" "kube-dns") }}
{{- $selector := index $dns $key | default dict }}
{{- $labels := $selector.matchLabels | default dict }}
{{- $label := index $default 0 }}
{{- if and (eq (toString (get $labels $label)) (index $default 1)) (or (gt (len $labels) 1) $selector.matchExpressions) }}
{{- fail (printf "networkPolicy.dns.%s keeps the chart's default %s: %s beside your own terms (Helm merges maps), so it selects only pods carrying both and DNS would match nothing. Replace the default: %s: {matchLabels: {%s: null, …yours}}." $key $label (index $default 1) $key $label) }}
{{- end }}
{{- end }}
{{- if eq (include "mtls-gateway.dnsPeers" .) "[]" }}
{{- fail "networkPolicy.dns has no destination: namespaceSelector and podSelector are null and networkPolicy.dns.cidrs is empty, so the gateway could resolve no name. Select the DNS pods, or list the DNS servers' addresses in networkPolicy.dns.cidrs (NodeLocal DNSCache: 169.254.20.10/32; 0.0.0.0/0 for any address); networkPolicy.dns.enabled: false writes no DNS rule." }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The operator's topologySpreadConstraints, as written except one thing: a constraint that counts
only this release's pods (labelSelector.matchLabels carries both selector labels with their
values, as the default's does) and says nothing of matchLabelKeys gets [pod-template-hash] where
the cluster honours it (1.27+), like the default: during a rollout it then counts its own
ReplicaSet's pods, not the old ones that are about to go. Any other selector (other apps' pods,
several releases) keeps its meaning; matchLabelKeys: [] (or any value) is left as written.
*/}}
{{- define "mtls-gateway.spreadConstraints" -}}
{{- $own := include "mtls-gateway.selectorLabels" . | fromYaml }}
{{- $honoured := semverCompare ">=1.27.0-0" .Capabilities.KubeVersion.Version }}
{{- $out := list }}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- $selector := $c.labelSelector | default dict }}
{{- $labels := $selector.matchLabels | default dict }}
{{- $ownPods := true }}
{{- range $key, $value := $own }}
{{- if ne (toString (get $labels $key)) $value }}{{ $ownPods = false }}{{ end }}
{{- end }}
{{- /* The API refuses a key in both matchLabelKeys and the selector. */}}
{{- $named := hasKey $labels "pod-template-hash" }}
{{- range ($selector.matchExpressions | default list) }}
{{- if eq (toString .key) "pod-template-hash" }}{{ $named = true }}{{ end }}
{{- end }}
{{- if and $honoured $ownPods (not $named) (not (hasKey $c "matchLabelKeys")) }}
{{- $_ := set $c "matchLabelKeys" (list "pod-template-hash") }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}
