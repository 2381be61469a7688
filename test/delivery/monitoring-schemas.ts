/**
 * JSON Schemas for the prometheus-operator kinds the chart renders (monitoring.coreos.com/v1),
 * transcribed from the operator's CRDs for the fields the chart uses, with additionalProperties
 * false so a misspelt field fails here instead of being pruned silently by the API server.
 */
const str = { type: 'string' } as const
const labels = { type: 'object', additionalProperties: { type: 'string' } } as const
const duration = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' } as const
const metadata = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: str, namespace: str, labels, annotations: labels },
} as const
const relabel = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sourceLabels: { type: 'array', items: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } },
    separator: str,
    targetLabel: str,
    regex: str,
    modulus: { type: 'integer' },
    replacement: str,
    action: { enum: ['replace', 'Replace', 'keep', 'Keep', 'drop', 'Drop', 'hashmod', 'HashMod', 'labelmap', 'LabelMap', 'labeldrop', 'LabelDrop', 'labelkeep', 'LabelKeep', 'lowercase', 'Lowercase', 'uppercase', 'Uppercase', 'keepequal', 'KeepEqual', 'dropequal', 'DropEqual'] },
  },
} as const
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: labels,
    matchExpressions: {
      type: 'array',
      items: { type: 'object', required: ['key', 'operator'], additionalProperties: false, properties: { key: str, operator: str, values: { type: 'array', items: str } } },
    },
  },
} as const

const keySelector = { type: 'object', required: ['key'], additionalProperties: false, properties: { name: str, key: str, optional: { type: 'boolean' } } } as const
const secretOrConfigMap = { type: 'object', additionalProperties: false, properties: { secret: keySelector, configMap: keySelector } } as const
/** An endpoint's TLSConfig (SafeTLSConfig plus the file paths Prometheus itself may hold). */
const tlsConfig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ca: secretOrConfigMap,
    cert: secretOrConfigMap,
    keySecret: keySelector,
    caFile: str,
    certFile: str,
    keyFile: str,
    serverName: str,
    insecureSkipVerify: { type: 'boolean' },
    minVersion: { enum: ['TLS10', 'TLS11', 'TLS12', 'TLS13'] },
    maxVersion: { enum: ['TLS10', 'TLS11', 'TLS12', 'TLS13'] },
  },
} as const

export const MONITORING_SCHEMAS: Record<string, object> = {
  'monitoring.coreos.com/v1/ServiceMonitor': {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    additionalProperties: false,
    properties: {
      apiVersion: { const: 'monitoring.coreos.com/v1' },
      kind: { const: 'ServiceMonitor' },
      metadata,
      spec: {
        type: 'object',
        required: ['selector'],
        additionalProperties: false,
        properties: {
          jobLabel: str,
          selector: labelSelector,
          namespaceSelector: { type: 'object', additionalProperties: false, properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } } },
          endpoints: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                port: str,
                targetPort: { oneOf: [{ type: 'integer' }, { type: 'string' }] },
                path: str,
                scheme: { enum: ['http', 'https'] },
                tlsConfig,
                interval: duration,
                scrapeTimeout: duration,
                honorLabels: { type: 'boolean' },
                relabelings: { type: 'array', items: relabel },
                metricRelabelings: { type: 'array', items: relabel },
              },
            },
          },
        },
      },
    },
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    additionalProperties: false,
    properties: {
      apiVersion: { const: 'monitoring.coreos.com/v1' },
      kind: { const: 'PrometheusRule' },
      metadata,
      spec: {
        type: 'object',
        additionalProperties: false,
        properties: {
          groups: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'rules'],
              additionalProperties: false,
              properties: {
                name: { type: 'string', minLength: 1 },
                interval: duration,
                rules: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['expr'],
                    additionalProperties: false,
                    oneOf: [{ required: ['alert'] }, { required: ['record'] }],
                    properties: {
                      alert: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
                      record: str,
                      expr: { type: 'string', minLength: 1 },
                      for: duration,
                      keep_firing_for: duration,
                      labels,
                      annotations: labels,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
}
