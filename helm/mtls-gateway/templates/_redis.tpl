{{/* The Redis store: Secret keys, mounted TLS material, the gateway's store.redis block, checks. */}}

{{- define "mtls-gateway.redisTlsDir" -}}/etc/mtls-gateway/redis-tls{{- end }}

{{/* Key of the Redis password in the Secret: passwordKey, or "password" in the chart-made Secret. */}}
{{- define "mtls-gateway.redisPasswordKey" -}}
{{- $r := .Values.store.redis }}
{{- if $r.passwordKey }}{{ $r.passwordKey }}{{ else if and (not $r.existingSecret) $r.password }}password{{ end }}
{{- end }}

{{/* The store keys the gateway reads for Redis (secrets as ${env:…} set from the Secret). */}}
{{- define "mtls-gateway.redisStore" -}}
{{- $r := .Values.store.redis }}
{{- $store := dict "keyPrefix" $r.keyPrefix }}
{{- $redis := dict }}
{{- if eq $r.mode "sentinel" }}
{{- $s := dict "addresses" $r.sentinel.addresses "primaryName" $r.sentinel.primaryName }}
{{- if $r.sentinel.passwordKey }}
{{- $_ := set $s "password" "${env:MTLS_GATEWAY_REDIS_SENTINEL_PASSWORD}" }}
{{- end }}
{{- $_ := set $redis "sentinel" $s }}
{{- else if eq $r.mode "cluster" }}
{{- $_ := set $redis "cluster" (dict "nodes" $r.cluster.nodes) }}
{{- else }}
{{- $_ := set $store "url" "${env:MTLS_GATEWAY_REDIS_URL}" }}
{{- end }}
{{- if include "mtls-gateway.redisPasswordKey" . }}
{{- $_ := set $redis "password" "${env:MTLS_GATEWAY_REDIS_PASSWORD}" }}
{{- end }}
{{- if $r.tls.enabled }}
{{- $dir := include "mtls-gateway.redisTlsDir" . }}
{{- $tls := dict }}
{{- if $r.tls.secretName }}
{{- $_ := set $tls "ca" (printf "%s/ca.crt" $dir) }}
{{- end }}
{{- if $r.tls.clientCertificate }}
{{- $_ := set $tls "cert" (printf "%s/tls.crt" $dir) }}
{{- $_ := set $tls "key" (printf "%s/tls.key" $dir) }}
{{- end }}
{{- with $r.tls.serverName }}
{{- $_ := set $tls "serverName" . }}
{{- end }}
{{- $_ := set $redis "tls" $tls }}
{{- end }}
{{- if not (kindIs "invalid" $r.replicasToAcknowledge) }}
{{- $_ := set $redis "replicasToAcknowledge" (int $r.replicasToAcknowledge) }}
{{- end }}
{{- if $r.gateReadiness }}
{{- $_ := set $redis "gateReadiness" true }}
{{- end }}
{{- if $redis }}
{{- $_ := set $store "redis" $redis }}
{{- end }}
{{- toYaml $store }}
{{- end }}

{{/* The TCP ports the gateway dials for Redis: the data port, and every Sentinel or Cluster node's. */}}
{{- define "mtls-gateway.redisPorts" -}}
{{- $r := .Values.store.redis }}
{{- $ports := dict (toString (int $r.port)) true }}
{{- $addresses := ternary $r.sentinel.addresses (ternary $r.cluster.nodes list (eq $r.mode "cluster")) (eq $r.mode "sentinel") }}
{{- range $addresses }}
{{- $_ := set $ports (regexFind "[0-9]+$" .) true }}
{{- end }}
{{- keys $ports | sortAlpha | join "," }}
{{- end }}

{{/* Refuses Redis values that cannot work, naming the fix. */}}
{{- define "mtls-gateway.validateRedis" -}}
{{- $r := .Values.store.redis }}
{{- if eq $r.mode "standalone" }}
{{- if and (not $r.existingSecret) (not $r.url) }}
{{- fail "store.kind is \"redis\" but neither store.redis.existingSecret (a Secret holding the Redis URL) nor store.redis.url is set." }}
{{- end }}
{{- else if $r.url }}
{{- fail (printf "store.redis.url is set but store.redis.mode is %q: the URL names one server; give store.redis.%s instead." $r.mode (ternary "sentinel.addresses" "cluster.nodes" (eq $r.mode "sentinel"))) }}
{{- end }}
{{- if and (eq $r.mode "sentinel") (not $r.sentinel.addresses) }}
{{- fail "store.redis.mode is \"sentinel\" but store.redis.sentinel.addresses is empty (the Sentinels' host:port)." }}
{{- end }}
{{- if and (eq $r.mode "cluster") (not $r.cluster.nodes) }}
{{- fail "store.redis.mode is \"cluster\" but store.redis.cluster.nodes is empty (some cluster nodes' host:port)." }}
{{- end }}
{{- if and (or $r.passwordKey $r.sentinel.passwordKey) (not $r.existingSecret) }}
{{- fail "store.redis.passwordKey / sentinel.passwordKey name keys of store.redis.existingSecret, which is not set." }}
{{- end }}
{{- /* Dev values name both: a password in the URL (escapes aside: they are not decoded here) that is not store.redis.password. */}}
{{- $userinfo := regexReplaceAll "^rediss?://([^/?#]*)@.*$" (toString $r.url) "${1}" }}
{{- if and (eq $r.mode "standalone") (not $r.existingSecret) $r.password (ne $userinfo (toString $r.url)) (not (contains "%" $userinfo)) }}
{{- if ne (ternary (regexReplaceAll "^[^:]*:" $userinfo "") "" (contains ":" $userinfo)) (toString $r.password) }}
{{- fail "store.redis.url holds a password (or a user without one) and store.redis.password another: the gateway would refuse to start, as the Redis client uses the URL's and ignores store.redis.password; give the password in one place, or the same in both." }}
{{- end }}
{{- end }}
{{- if and $r.tls.clientCertificate (not $r.tls.secretName) }}
{{- fail "store.redis.tls.clientCertificate is true but store.redis.tls.secretName (the Secret with tls.crt and tls.key) is not set." }}
{{- end }}
{{- end }}

{{/* The Secret with the Redis TLS material to mount, when there is one. */}}
{{- define "mtls-gateway.redisTlsSecret" -}}
{{- $r := .Values.store.redis }}
{{- if and (eq .Values.store.kind "redis") $r.tls.enabled $r.tls.secretName }}{{ $r.tls.secretName }}{{ end }}
{{- end }}

{{/* "true" when the chart makes the Redis Secret from store.redis.url / password (dev values). */}}
{{- define "mtls-gateway.redisSecretMade" -}}
{{- $r := .Values.store.redis }}
{{- if and (eq .Values.store.kind "redis") (not $r.existingSecret) (or $r.url $r.password) }}true{{ end }}
{{- end }}

{{/*
A mark of the chart-made Redis Secret's contents for the pod template, so a changed URL or
password rolls the pods. Not a sha256 of the Secret: anyone reading the Deployment could test
guesses of a weak password at one hash each. derivePassword is scrypt (N=32768) then HMAC,
deterministic: the same values give the same mark, and each guess costs a scrypt.
*/}}
{{- define "mtls-gateway.redisSecretMark" -}}
{{- if include "mtls-gateway.redisSecretMade" . }}
{{- $r := .Values.store.redis }}
{{- derivePassword 1 "maximum" (printf "%s\n%s" $r.url $r.password) "mtls-gateway" (printf "%s/%s" .Release.Namespace (include "mtls-gateway.redisSecretName" .)) }}
{{- end }}
{{- end }}
