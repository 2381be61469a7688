{{/*
The Grafana dashboard (JSON): requests, latency percentiles, handshake failures by reason,
certificate days left per endpoint, hours to each endpoint's CRL nextUpdate, days since each TLS file became valid, reloads, caller auth failures, egress refusals, tunnels, the
store, process CPU and memory, bytes relayed; with grafanaDashboard.tracing.datasourceUid, a table
of recent failed traces whose trace ids link to the trace. Variables: datasource, namespace, job, endpoint.
Kept as one raw string so Grafana's own {{label}} legend syntax needs no escaping.
*/}}
{{- define "mtls-gateway.dashboard" -}}
{{`{
  "title": "mtls-gateway",
  "uid": "mtls-gateway",
  "editable": true,
  "schemaVersion": 39,
  "version": 1,
  "tags": [
    "mtls-gateway"
  ],
  "timezone": "browser",
  "refresh": "30s",
  "time": {
    "from": "now-6h",
    "to": "now"
  },
  "annotations": {
    "list": []
  },
  "links": [],
  "templating": {
    "list": [
      {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0
      },
      {
        "name": "namespace",
        "label": "Namespace",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "query": {
          "query": "label_values(mtls_gateway_requests_total, namespace)",
          "refId": "namespace"
        },
        "definition": "label_values(mtls_gateway_requests_total, namespace)",
        "refresh": 2,
        "current": {},
        "hide": 0
      },
      {
        "name": "job",
        "label": "Job",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "query": {
          "query": "label_values(mtls_gateway_requests_total{namespace=\"$namespace\"}, job)",
          "refId": "job"
        },
        "definition": "label_values(mtls_gateway_requests_total{namespace=\"$namespace\"}, job)",
        "refresh": 2,
        "current": {},
        "hide": 0
      },
      {
        "name": "endpoint",
        "label": "Endpoint",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "query": {
          "query": "label_values(mtls_gateway_requests_total{namespace=\"$namespace\", job=\"$job\"}, endpoint)",
          "refId": "endpoint"
        },
        "definition": "label_values(mtls_gateway_requests_total{namespace=\"$namespace\", job=\"$job\"}, endpoint)",
        "refresh": 2,
        "multi": true,
        "includeAll": true,
        "allValue": ".*",
        "current": {},
        "hide": 0
      }
    ]
  },
  "panels": [
    {
      "id": 1,
      "type": "row",
      "title": "Traffic",
      "collapsed": false,
      "gridPos": {
        "x": 0,
        "y": 0,
        "w": 24,
        "h": 1
      },
      "panels": []
    },
    {
      "id": 2,
      "title": "Requests per second by endpoint and status class",
      "description": "Requests answered by the gateway (mtls_gateway_requests_total).",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 1,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (endpoint, status_class) (rate(mtls_gateway_requests_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval]))",
          "legendFormat": "{{endpoint}} {{status_class}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 3,
      "title": "5xx ratio by endpoint",
      "description": "Share of 5xx responses: backend errors and the gateway's own 502/504.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 1,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (endpoint) (rate(mtls_gateway_requests_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\", status_class=\"5xx\"}[$__rate_interval])) / sum by (endpoint) (rate(mtls_gateway_requests_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval]))",
          "legendFormat": "{{endpoint}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 4,
      "title": "Request latency percentiles",
      "description": "Time from request arrival to the end of the response, all selected endpoints.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 9,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "histogram_quantile(0.5, sum by (le) (rate(mtls_gateway_request_duration_seconds_bucket{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])))",
          "legendFormat": "p50"
        },
        {
          "refId": "B",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "histogram_quantile(0.9, sum by (le) (rate(mtls_gateway_request_duration_seconds_bucket{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])))",
          "legendFormat": "p90"
        },
        {
          "refId": "C",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "histogram_quantile(0.99, sum by (le) (rate(mtls_gateway_request_duration_seconds_bucket{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])))",
          "legendFormat": "p99",
          "exemplar": true
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 5,
      "title": "p99 latency by endpoint: total and upstream",
      "description": "Total time against time to the upstream's response headers: the difference is the gateway's own share.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 9,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "histogram_quantile(0.99, sum by (endpoint, le) (rate(mtls_gateway_request_duration_seconds_bucket{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])))",
          "legendFormat": "{{endpoint}} total"
        },
        {
          "refId": "B",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "histogram_quantile(0.99, sum by (endpoint, le) (rate(mtls_gateway_upstream_duration_seconds_bucket{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])))",
          "legendFormat": "{{endpoint}} upstream"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 6,
      "title": "Requests in flight and client connections open",
      "description": "Connections open on the proxy listener (idle keep-alive ones and CONNECT tunnels included) against its cap, listen.connections.max per process: past the cap new connections are closed unanswered.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 17,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum(mtls_gateway_requests_in_flight{namespace=\"$namespace\", job=\"$job\"})",
          "legendFormat": "in flight"
        },
        {
          "refId": "B",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum(mtls_gateway_connections_open{namespace=\"$namespace\", job=\"$job\", listener=\"proxy\"})",
          "legendFormat": "connections open"
        },
        {
          "refId": "C",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum(mtls_gateway_connections_max{namespace=\"$namespace\", job=\"$job\", listener=\"proxy\"})",
          "legendFormat": "connection cap"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 7,
      "title": "New upstream connections: full handshakes vs resumed",
      "description": "",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 17,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (endpoint, resumed) (rate(mtls_gateway_upstream_connections_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval]))",
          "legendFormat": "{{endpoint}} resumed={{resumed}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "cps"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 8,
      "type": "row",
      "title": "TLS and certificates",
      "collapsed": false,
      "gridPos": {
        "x": 0,
        "y": 25,
        "w": 24,
        "h": 1
      },
      "panels": []
    },
    {
      "id": 9,
      "title": "Upstream TLS handshake failures by reason",
      "description": "Requests failed in the upstream TLS handshake, by reason (upstream_cert_untrusted, upstream_cert_expired, upstream_hostname_mismatch, upstream_pin_mismatch, upstream_client_cert_rejected).",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 26,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (endpoint, reason) (rate(mtls_gateway_upstream_tls_handshake_failures_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval])) > 0",
          "legendFormat": "{{endpoint}} {{reason}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 10,
      "title": "Certificate days left per endpoint",
      "description": "Days until each certificate of each endpoint's bundle expires (the earliest across tenant bundles), and until each TLS file besides the bundles stops working, by config key (listen.tls/admin.tls cert and clientCa, tracing.otlp.tls, store.redis.tls: MtlsGatewayTlsFileExpiringSoon and MtlsGatewayTlsFileExpiryCritical, same thresholds). Red below MtlsGatewayCertificateExpiryCritical's `}}{{ int .Values.prometheusRule.certificateExpiry.criticalDays }}{{` days, orange below MtlsGatewayCertificateExpiringSoon's `}}{{ int .Values.prometheusRule.certificateExpiry.warningDays }}{{`.",
      "type": "bargauge",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 26,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "min by (endpoint, kind) (mtls_gateway_certificate_expiry_timestamp_seconds{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"} - time()) / 86400",
          "legendFormat": "{{endpoint}} {{kind}}"
        },
        {
          "refId": "B",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "min by (key) (mtls_gateway_tls_file_expiry_timestamp_seconds{namespace=\"$namespace\", job=\"$job\"} - time()) / 86400",
          "legendFormat": "{{key}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "d",
          "min": 0,
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "orange",
                "value": `}}{{ int .Values.prometheusRule.certificateExpiry.criticalDays }}{{`
              },
              {
                "color": "green",
                "value": `}}{{ int .Values.prometheusRule.certificateExpiry.warningDays }}{{`
              }
            ]
          }
        },
        "overrides": []
      },
      "options": {
        "orientation": "horizontal",
        "displayMode": "gradient",
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        }
      }
    },
    {
      "id": 14,
      "title": "CRL next update per endpoint",
      "description": "Hours until the first CRL of each endpoint (tls.crl, tenant bundles included) passes its nextUpdate: from then on the endpoint answers every call 502 server_crl_not_valid until a fresh CRL is in place. Red below the MtlsGatewayCrlNextUpdateSoon alert's threshold; endpoints without a dated CRL are not shown.",
      "type": "bargauge",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 34,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "min by (endpoint) (mtls_gateway_crl_next_update_timestamp_seconds{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"} - time()) / 3600",
          "legendFormat": "{{endpoint}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "h",
          "min": 0,
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": `}}{{ int .Values.prometheusRule.crlNextUpdate.hours }}{{`
              }
            ]
          }
        },
        "overrides": []
      },
      "options": {
        "orientation": "horizontal",
        "displayMode": "gradient",
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        }
      }
    },
    {
      "id": 28,
      "title": "TLS file days since valid",
      "description": "Days since each TLS file besides the bundles started working, by config key (listen.tls/admin.tls cert and clientCa, tracing.otlp.tls, store.redis.tls): a certificate file when the last of its certificates became valid, a CA file when its first did. Red below zero, a file not valid yet: MtlsGatewayTlsFileNotYetValid fires for it.",
      "type": "bargauge",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 34,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "(time() - max by (key) (mtls_gateway_tls_file_not_before_timestamp_seconds{namespace=\"$namespace\", job=\"$job\"})) / 86400",
          "legendFormat": "{{key}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "d",
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 0
              }
            ]
          }
        },
        "overrides": []
      },
      "options": {
        "orientation": "horizontal",
        "displayMode": "gradient",
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        }
      }
    },
    {
      "id": 11,
      "type": "row",
      "title": "Operations",
      "collapsed": false,
      "gridPos": {
        "x": 0,
        "y": 42,
        "w": 24,
        "h": 1
      },
      "panels": []
    },
    {
      "id": 12,
      "title": "Config reloads by result",
      "description": "Hot reloads (file change or SIGHUP). A failure keeps the last good config in force.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 43,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (result) (increase(mtls_gateway_config_reloads_total{namespace=\"$namespace\", job=\"$job\"}[$__rate_interval]))",
          "legendFormat": "{{result}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 13,
      "title": "Time since the config in force was loaded",
      "description": "",
      "type": "stat",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 43,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "time() - max by (pod) (mtls_gateway_config_last_reload_success_timestamp_seconds{namespace=\"$namespace\", job=\"$job\"})",
          "legendFormat": "{{pod}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 20,
      "title": "Caller authentication failures by reason",
      "description": "Callers refused (407/401/403), by reason: wrong secret or key, expired or replayed assertion, unknown bearer, app not allowed.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 51,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (reason) (rate(mtls_gateway_caller_auth_failures_total{namespace=\"$namespace\", job=\"$job\"}[$__rate_interval])) > 0",
          "legendFormat": "{{reason}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 21,
      "title": "Egress refusals by reason",
      "description": "Destinations the egress policy refused: private, loopback, link-local or metadata addresses dialled for an endpoint without allowPrivate.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 51,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (reason) (rate(mtls_gateway_egress_refusals_total{namespace=\"$namespace\", job=\"$job\"}[$__rate_interval])) > 0",
          "legendFormat": "{{reason}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 22,
      "title": "CONNECT tunnels by kind",
      "description": "Tunnels opened per second: intercepted (TLS terminated, inner requests proxied), pass-through (bytes only) and refused.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 59,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (kind) (rate(mtls_gateway_connect_tunnels_total{namespace=\"$namespace\", job=\"$job\"}[$__rate_interval]))",
          "legendFormat": "{{kind}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "ops"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 23,
      "title": "Store reachable, per pod",
      "description": "1 while the pod's store (SQLite or Redis) answers a ping at scrape time; no line: the pod has no store.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 59,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "min by (pod) (mtls_gateway_store_up{namespace=\"$namespace\", job=\"$job\"})",
          "legendFormat": "{{pod}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 24,
      "title": "Process CPU, per pod",
      "description": "CPU seconds per second of each pod (with --workers, the sum of its worker processes).",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 67,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (pod) (rate(process_cpu_seconds_total{namespace=\"$namespace\", job=\"$job\"}[$__rate_interval]))",
          "legendFormat": "{{pod}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 25,
      "title": "Resident memory, per pod",
      "description": "RSS of each pod (with --workers, the sum of its worker processes) and the V8 heap in use.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 67,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (pod) (process_resident_memory_bytes{namespace=\"$namespace\", job=\"$job\"})",
          "legendFormat": "{{pod}} rss"
        },
        {
          "refId": "B",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (pod) (nodejs_heap_size_used_bytes{namespace=\"$namespace\", job=\"$job\"})",
          "legendFormat": "{{pod}} heap used"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "bytes"
        },
        "overrides": []
      },
      "options": {}
    },
    {
      "id": 26,
      "title": "Bytes relayed by endpoint",
      "description": "Bytes received from callers (in) and sent back to them (out), headers included.",
      "type": "timeseries",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 75,
        "w": 12,
        "h": 8
      },
      "targets": [
        {
          "refId": "A",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "expr": "sum by (endpoint, direction) (rate(mtls_gateway_relayed_bytes_total{namespace=\"$namespace\", job=\"$job\", endpoint=~\"$endpoint\"}[$__rate_interval]))",
          "legendFormat": "{{endpoint}} {{direction}}"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "Bps"
        },
        "overrides": []
      },
      "options": {}
    }
`}}
{{- with .Values.grafanaDashboard.tracing }}{{ if .datasourceUid }},
    {{ include "mtls-gateway.tracePanel" . }}
{{- end }}{{ end -}}
{{`
  ]
}`}}
{{- end }}
{{- define "mtls-gateway.tracePanel" -}}
{
      "id": 27,
      "title": "Recent failed traces",
      "description": "The gateway's recent error spans from the tracing data source; the trace id opens the whole trace.",
      "type": "table",
      "datasource": {"type": "tempo", "uid": {{ .datasourceUid | toJson }}},
      "gridPos": {"x": 12, "y": 75, "w": 12, "h": 8},
      "targets": [
        {
          "refId": "A",
          "datasource": {"type": "tempo", "uid": {{ .datasourceUid | toJson }}},
          "queryType": "traceql",
          "query": {{ printf "{resource.service.name=%q && status=error}" .serviceName | toJson }},
          "limit": 20
        }
      ],
      "fieldConfig": {
        "defaults": {},
        "overrides": [
          {
            "matcher": {"id": "byName", "options": "traceID"},
            "properties": [
              {"id": "displayName", "value": "Trace ID"},
              {"id": "links", "value": [{"title": "Open trace", "url": {{ printf "/explore?left={\"datasource\":%q,\"queries\":[{\"query\":\"${__value.raw}\",\"queryType\":\"traceql\"}]}" .datasourceUid | toJson }}}]}
            ]
          }
        ]
      },
      "options": {"showHeader": true}
    }
{{- end }}
