/**
 * The config reference page, generated from the schema so it cannot drift: one row per
 * key with its type, default and description.
 */
import { configSchema } from './schema.js'

interface SchemaNode {
  type?: string | string[]
  description?: string
  default?: unknown
  enum?: readonly unknown[]
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  additionalProperties?: SchemaNode | boolean
  anyOf?: readonly SchemaNode[]
  required?: readonly string[]
  pattern?: string
  maxDuration?: { max: string; why: string }
  maximum?: number
  maximumWhy?: string
}

function typeOf(n: SchemaNode): string {
  if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ')
  if (n.anyOf) return [...new Set(n.anyOf.map(typeOf))].join(' \\| ')
  if (n.type === 'array' && n.items) return `list of ${typeOf(n.items)}`
  return String(n.type ?? 'any')
}

function row(full: string, node: SchemaNode, required: boolean): string {
  const def = node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``
  const max =
    node.maxDuration !== undefined ? ` At most \`${node.maxDuration.max}\`: ${node.maxDuration.why}.` : node.maximumWhy !== undefined ? ` At most \`${node.maximum}\`: ${node.maximumWhy}.` : ''
  return `| \`${full}\`${required ? ' (required)' : ''} | ${typeOf(node)} | ${def} | ${(node.description ?? '').replace(/\|/g, '\\|')}${max} |`
}

// Every way a node holds keys below it is walked here, so no kind of key can go unlisted:
// named properties, list items (`[]`) and map values (`.<name>`, a key the user chooses).
function rows(node: SchemaNode, path: string, out: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const full = path ? `${path}.${key}` : key
    out.push(row(full, child, node.required?.includes(key) === true))
    rows(child, full, out)
  }
  if (node.items) rows(node.items, `${path}[]`, out)
  if (typeof node.additionalProperties === 'object') {
    out.push(row(`${path}.<name>`, node.additionalProperties, false))
    rows(node.additionalProperties, `${path}.<name>`, out)
  }
}

/** Markdown reference of every config key. */
export function renderConfigReference(): string {
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run schema`; a test fails when it is stale. -->',
    '',
    'One YAML file (default `config/gateway.yaml`). Unknown keys are errors. Any string may contain',
    '`${env:NAME}` or `${file:path}` references, resolved at load (a missing one is an error naming it).',
    'Durations: a number of milliseconds or `250ms`, `5s`, `2m`, `1h` (a number from 1 to 999 is warned: `5` is 5 ms, write `5s` or `5ms`). Sizes: bytes or `512KiB`, `10MiB`, `1GiB`.',
    'Every duration says "At most" and why (`596h` for one the gateway waits on with a timer: Node\'s timers hold at most',
    '2^31 − 1 ms, about 24.8 days); a longer value is refused at load and on reload, naming the key, the value and the maximum.',
    'Relative paths are relative to the config file. In a key path, `[]` stands for each item of a list and `<name>` for a key you choose',
    '(a tenant, a field or a header name): `endpoints[].tenants.<name>.tls.cert` is `cert` in the `tls` of any tenant of any endpoint.',
    '',
    '| key | type | default | description |',
    '|---|---|---|---|',
  ]
  rows(configSchema as unknown as SchemaNode, '', out)
  return out.join('\n') + '\n'
}

/** The JSON Schema file as shipped in config/gateway.schema.json. */
export function renderSchemaJson(): string {
  return JSON.stringify(configSchema, null, 2) + '\n'
}
