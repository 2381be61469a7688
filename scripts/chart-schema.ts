/**
 * The chart's values.schema.json validates the gateway config itself: `config` and
 * `endpoints[]` are the gateway's own schema (config/gateway.schema.json), adjusted where the
 * chart writes or adds keys. The rest of values.schema.json is hand-written and kept as is, so
 * `npm run schema` rewrites only these two parts (a test checks the file is current).
 */
import { renderSchemaJson } from '../src/config/reference.js'

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[]; items?: Schema }

/** Keys of the gateway YAML that the chart writes from its own values. */
const CHART_MANAGED: Record<string, string> = {
  endpoints: 'Use the top-level endpoints value.',
  store: 'Use the top-level store value.',
  admin: 'Use gateway.adminPort.',
  drain: 'Use gateway.drainGraceSeconds.',
}
const refused = (description: string): Schema => ({ not: {}, description })

/**
 * Keys whose value is itself a secret. In the chart (production) each must hold a `${env:…}` or
 * `${file:…}` reference: a literal would be rendered into the ConfigMap, readable by anyone
 * who may read ConfigMaps, kept in the release history and in `helm get values`.
 */
const SECRET_VALUES = {
  config: [
    'listen.tls.keyPassphrase', 'profiles[].consumerSecret', 'profiles[].privateKeyPassphrase', 'profiles[].token.token', 'profiles[].token.tokenSecret',
    // Additional fields hold what a PIN or an account number is: every value a reference.
    'profiles[].additionalFields.*',
    'callers.adminToken', 'callers.apps[].hs256Secret', 'callers.gatewayKeys[].privateKey', 'callers.gatewayKeys[].passphrase',
    'interception.caKeyPassphrase', 'tracing.otlp.headers.*',
  ],
  endpoint: ['tls.keyPassphrase', 'tls.pkcs12Passphrase', 'via.password', 'tenants.*.tls.keyPassphrase', 'tenants.*.tls.pkcs12Passphrase'],
}
/**
 * The whole value is references (anchored: unanchored, `"correct-horse${file:/dev/null}"`
 * matched and resolved to the literal written inline). An OTLP header may put an auth scheme
 * before its reference (`Bearer ${env:…}`).
 */
export const REFERENCE_PATTERN = '^(\\$\\{(env|file):[^}]+\\})+$'
const HEADER_REFERENCE_PATTERN = '^((Bearer|Basic|Token|ApiKey) )?(\\$\\{(env|file):[^}]+\\})+$'

/** The schema at `path` (`a.b`, `a[]`, `a.*` for any key) under `root`. */
function at(root: Schema, path: string): Schema {
  let node = root
  for (const part of path.replace(/\[\]/g, '.[]').split('.')) {
    const next = part === '[]' ? node.items : part === '*' ? (node.additionalProperties as Schema | undefined) : node.properties?.[part]
    if (next === undefined || typeof next !== 'object') throw new Error(`chart schema: no ${path} in the gateway schema`)
    node = next
  }
  return node
}

/** Each secret-valued key under `root` must hold a reference. */
function requireReferences(root: Schema, paths: readonly string[]): void {
  for (const path of paths) {
    const node = at(root, path)
    node.pattern = path.endsWith('headers.*') ? HEADER_REFERENCE_PATTERN : REFERENCE_PATTERN
    node.description = `${node.description === undefined ? '' : `${String(node.description)} `}The chart refuses a literal: give \`\${env:…}\` (extraEnv from a Secret) or \`\${file:…}\` (a mounted Secret), never the value inline.`
  }
}
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

/** `config`: the gateway schema without the chart-managed keys; CA paths optional (interception.caSecretName). */
function configSchema(gateway: Schema): Schema {
  const properties: Record<string, Schema> = {}
  for (const [key, schema] of Object.entries(gateway.properties ?? {})) properties[key] = key in CHART_MANAGED ? refused(CHART_MANAGED[key] as string) : clone(schema)
  const listen = properties.listen as Schema
  listen.properties = { ...listen.properties, host: refused('Use gateway.listenHost.'), port: refused('Use gateway.port.') }
  const interception = properties.interception as Schema
  delete interception.required
  interception.description = `${String(interception.description)} caCert/caKey: give interception.caSecretName instead (the chart refuses neither set).`
  requireReferences({ properties }, SECRET_VALUES.config)
  return { type: 'object', additionalProperties: false, description: 'The rest of the gateway YAML (docs/config-reference.md), merged under the chart-managed keys; validated by the gateway\'s own schema.', properties }
}

/** `endpoints[]`: a gateway endpoint plus the chart keys tls.secretName, tls.caBundle and egress. */
function endpointSchema(gateway: Schema, current: Schema): Schema {
  const endpoint = clone(gateway.properties?.endpoints?.items as Schema)
  const chartTls = current.properties?.tls as Schema
  const tls = endpoint.properties?.tls as Schema
  tls.properties = { ...tls.properties, secretName: chartTls.properties?.secretName as Schema, caBundle: chartTls.properties?.caBundle as Schema }
  tls.anyOf = chartTls.anyOf
  tls.description = chartTls.description
  endpoint.properties = { ...endpoint.properties, egress: current.properties?.egress as Schema }
  endpoint.description = current.description
  requireReferences(endpoint, SECRET_VALUES.endpoint)
  return endpoint
}

/** values.schema.json with `config` and `endpoints.items` derived from the gateway's schema. */
export function renderChartValuesSchema(currentText: string): string {
  const values = JSON.parse(currentText) as Schema
  const gateway = JSON.parse(renderSchemaJson()) as Schema
  const props = values.properties as Record<string, Schema>
  props.config = configSchema(gateway)
  const endpoints = props.endpoints as Schema
  endpoints.items = endpointSchema(gateway, endpoints.items as Schema)
  return JSON.stringify(values, null, 2) + '\n'
}
