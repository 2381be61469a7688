/**
 * README.md and docs/*.md are for users (readme.test.ts runs the README's shell blocks): what
 * they name must exist in this repository. Each check reads the Markdown as text, deterministic
 * and fast:
 *   - every relative link resolves to a file of the repository, and every #anchor to a heading
 *     (GitHub's slugs); nothing points outside the repository (`../shared/…`, absolute paths);
 *   - every repository path quoted (`src/…`, `scripts/…`, `helm/tests/…`) exists;
 *   - every `yaml` block is a gateway config (merged over a minimal one, it passes the gateway's
 *     own parse and schema, only deployment files such as /etc/… being absent) or Helm values
 *     (merged over the chart's values.yaml, they pass values.schema.json); an indented block
 *     continues the block before it, under that block's first key;
 *   - every config key path quoted (`listen.tls.clientCa`, `endpoints[].timeouts`) is a key of
 *     the gateway's schema or of the chart's values.schema.json;
 *   - every `MTLS_GATEWAY_*` variable is read somewhere in the code (and every one the gateway,
 *     its scripts or the bench read is named), every metric named is one
 *     the gateway registers (and every one it registers is in the README), every `npm run X` is
 *     a script of package.json, and every flag given to a command of the gateway's CLI or to the
 *     bench is one that program's `--help` lists.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { Ajv } from 'ajv'
import YAML from 'yaml'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { assertDistFresh } from '../support/dist-fresh.js'

export interface Doc {
  file: string
  text: string
}

const DOCS: Doc[] = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].map((file) => ({ file, text: readFileSync(file, 'utf8') }))

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length

/** The text with fenced blocks blanked (kept as empty lines, so line numbers stay right). */
export function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, (block) => block.replace(/[^\n]/g, ''))
}

/** GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces to `-`, repeats numbered. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const m of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const slug = (m[1] as string).toLowerCase().replace(/<[^>]+>/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    anchors.add(n === 0 ? slug : `${slug}-${n}`)
  }
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1] as string)
  return anchors
}

/** Links that do not resolve inside the repository: `file:line: link (why)`. */
export function brokenLinks(doc: Doc, read: (file: string) => string | undefined): string[] {
  const broken: string[] = []
  const text = prose(doc.text)
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|^\[[^\]]+\]:\s*(\S+)/gm)) {
    const href = (m[1] ?? m[2]) as string
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue // http:, https:, mailto:
    const at = `${doc.file}:${lineOf(text, m.index)}: ${href}`
    const [path, anchor] = href.split('#') as [string, string | undefined]
    const target = path === '' ? doc.file : normalize(join(dirname(doc.file), decodeURIComponent(path)))
    if (path.startsWith('/') || target.startsWith('..')) {
      broken.push(`${at} (outside the repository)`)
      continue
    }
    const targetText = read(target)
    if (targetText === undefined) broken.push(`${at} (no such file)`)
    else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(targetText).has(anchor)) broken.push(`${at} (no such heading)`)
  }
  for (const m of doc.text.matchAll(/\.\.\/shared\b|(?<![\w.])\/work\//g)) broken.push(`${doc.file}:${lineOf(doc.text, m.index)}: ${m[0]} (outside the repository)`)
  return broken
}

function readRepoFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined
  return statSync(file).isDirectory() ? '' : readFileSync(file, 'utf8')
}

/** `a-{1,2}.json` → `a-1.json`, `a-2.json` (the shell's brace expansion, one level). */
const expandBraces = (p: string): string[] => {
  const m = /\{([^{}]*,[^{}]*)\}/.exec(p)
  return m ? (m[1] as string).split(',').map((alt) => p.replace(m[0], alt)) : [p]
}

/** Repository paths a doc quotes that do not exist (`bench/x.js` is the build of `bench/x.ts`). */
export function missingPaths(doc: Doc, exists: (path: string) => boolean): string[] {
  const missing: string[] = []
  for (const m of doc.text.matchAll(/(?<![\w./-])((?:src|test|scripts|helm|bench|config|docs)\/[\w./{},*-]*[\w/}*])/g)) {
    if ((m[1] as string).includes('*')) continue // a glob, not a path
    for (const path of expandBraces(m[1] as string)) {
      if (exists(path) || (path.endsWith('.js') && exists(path.replace(/\.js$/, '.ts')))) continue
      missing.push(`${doc.file}:${lineOf(doc.text, m.index)}: ${path}`)
    }
  }
  return missing
}

interface YamlBlock {
  at: string
  value: Record<string, unknown>
}

/** The `yaml` blocks of a doc; an indented one continues the block before it, under its first key. */
export function yamlBlocks(doc: Doc): YamlBlock[] {
  const blocks: YamlBlock[] = []
  for (const m of doc.text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)) {
    const at = `${doc.file}:${lineOf(doc.text, m.index)}`
    const body = m[1] as string
    const value = YAML.parse(body) as Record<string, unknown>
    const previous = blocks.at(-1)
    if (/^\s/.test(body) && previous) {
      const parent = Object.keys(previous.value)[0] as string
      blocks.push({ at, value: { ...previous.value, [parent]: { ...(previous.value[parent] as object), ...value } } })
    } else blocks.push({ at, value })
  }
  return blocks
}

type SchemaNode = { type?: string; properties?: Record<string, SchemaNode>; items?: SchemaNode; additionalProperties?: SchemaNode | boolean; anyOf?: SchemaNode[]; oneOf?: SchemaNode[]; allOf?: SchemaNode[]; $ref?: string }

/** Whether a dotted key path (`listen.tls.clientCa`, `endpoints[].tls`) is a key of the schema. */
export function schemaHasPath(root: SchemaNode, path: string): boolean {
  const deref = (n: SchemaNode): SchemaNode => (n.$ref?.startsWith('#/') ? deref(n.$ref.slice(2).split('/').reduce((o: unknown, k) => (o as Record<string, unknown> | undefined)?.[k], root) as SchemaNode) : n)
  const variants = (n: SchemaNode): SchemaNode[] => {
    const d = deref(n)
    return [d, ...[...(d.anyOf ?? []), ...(d.oneOf ?? []), ...(d.allOf ?? [])].flatMap(variants)]
  }
  let nodes = [root]
  for (const segment of path.split('.')) {
    const [key, ...arrays] = segment.split('[]')
    nodes = nodes.flatMap(variants).flatMap((n) => {
      const own = n.properties?.[key as string]
      // An object with no properties listed (Kubernetes' `resources`) takes any key.
      const open = n.type === 'object' && n.properties === undefined && n.additionalProperties === undefined
      return own ? [own] : typeof n.additionalProperties === 'object' ? [n.additionalProperties] : open ? [n] : []
    })
    for (const _ of arrays) nodes = nodes.flatMap(variants).flatMap((n) => (n.items ? [n.items] : []))
    if (nodes.length === 0) return false
  }
  return true
}

/** Dotted names that are no config key: OpenTelemetry's resource attributes, and deploy.md's example of a typo the chart refuses. */
const NOT_KEY_PATHS = new Set(['service.name', 'service.version', 'config.limits.maxBufferedBodyy'])

/** Config key paths a doc quotes (`listen.tls`, `endpoints[].timeouts.keepAlive`) that neither the gateway's schema nor the chart's values have. */
export function unknownKeyPaths(doc: Doc, schemas: SchemaNode[]): string[] {
  const unknown: string[] = []
  for (const m of doc.text.matchAll(/`([a-z][A-Za-z0-9]*(?:\[\])*(?:\.[a-zA-Z][A-Za-z0-9]*(?:\[\])*)+)(?:: [^`]*)?`/g)) {
    const path = m[1] as string
    if (NOT_KEY_PATHS.has(path) || /\.(ya?ml|json|md|ts|js|crt|key|pem)$/.test(path)) continue
    const top = path.split(/[.[]/)[0] as string
    const owners = schemas.filter((s) => s.properties?.[top] !== undefined)
    if (owners.length > 0 && !owners.some((s) => schemaHasPath(s, path))) unknown.push(`${doc.file}:${lineOf(doc.text, m.index)}: ${path}`)
  }
  return unknown
}

const GATEWAY_SCHEMA = JSON.parse(readFileSync('config/gateway.schema.json', 'utf8')) as SchemaNode & { properties: object }
const GATEWAY_KEYS = new Set(Object.keys(GATEWAY_SCHEMA.properties))
const VALUES_SCHEMA = JSON.parse(readFileSync('helm/mtls-gateway/values.schema.json', 'utf8')) as SchemaNode & { properties: object }
const MINIMAL = { endpoints: [{ name: 'partner', url: 'https://api.partner.example:8443', tls: { dir: '/etc/mtls-gateway/endpoints/partner' } }] }

/** Helm's merge of values: maps key by key, anything else replaced. */
function mergeValues(base: unknown, over: unknown): unknown {
  if (base === null || over === null || typeof base !== 'object' || typeof over !== 'object' || Array.isArray(base) || Array.isArray(over)) return over
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  // A null deletes the chart's default, as Helm's merge does before it checks the schema.
  for (const [k, v] of Object.entries(over)) if (v === null) delete out[k]; else out[k] = mergeValues(out[k], v)
  return out
}

/** Problems of a gateway config example: the gateway's own parse, absent files outside the repository aside. */
export function gatewayExampleProblems(value: Record<string, unknown>): string[] {
  const text = YAML.stringify({ ...MINIMAL, ...value })
  const env = Object.fromEntries([...text.matchAll(/\$\{env:(\w+)\}/g)].map((m) => [m[1] as string, 'example-value-0123456789']))
  try {
    parseConfig(join(process.cwd(), 'config', 'docs-example.yaml'), text, { env })
    return []
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    return e.problems.filter((p) => !/cannot read \/(etc|run|var)\/\S+ .*ENOENT/.test(p.msg)).map((p) => `${p.key}: ${p.msg}`)
  }
}

const validateValues = new Ajv({ allErrors: true, strict: false }).compile(VALUES_SCHEMA)
const chartDefaults = YAML.parse(readFileSync('helm/mtls-gateway/values.yaml', 'utf8')) as unknown

/** Problems of a yaml example: a gateway config, or the chart's values. */
function yamlExampleProblems(block: YamlBlock): string[] {
  const keys = Object.keys(block.value)
  if (keys.every((k) => GATEWAY_KEYS.has(k))) return gatewayExampleProblems(block.value).map((p) => `${block.at}: ${p}`)
  if (keys.every((k) => k in VALUES_SCHEMA.properties)) {
    return validateValues(mergeValues(chartDefaults, block.value)) ? [] : (validateValues.errors ?? []).map((e) => `${block.at}: values${e.instancePath} ${e.message ?? ''}`)
  }
  return [`${block.at}: neither a gateway config nor the chart's values (keys ${keys.join(', ')})`]
}

/** Every file of the code (not the docs), read once, for names the docs quote. */
function codeText(): string {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]))
  return ['src', 'scripts', 'bench', 'test', 'helm']
    .flatMap(files)
    .filter((f) => /\.(ts|sh|yaml|tpl|go)$/.test(f) && !f.startsWith('bench/results'))
    .concat(['Dockerfile'])
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n')
}

/** The metric names the gateway registers, without the `mtls_gateway_` prefix. */
function registeredMetrics(): Set<string> {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []))
  const src = files('src').map((f) => readFileSync(f, 'utf8')).join('\n')
  return new Set([...src.matchAll(/(?:\$\{METRIC_PREFIX\}|'mtls_gateway_)([a-z0-9_]+)/g)].map((m) => m[1] as string))
}

/** Metric-like names in backticks: `x_total`, `mtls_gateway_x_seconds{label}`, … (prefix removed). */
function quotedMetrics(text: string): string[] {
  return [...text.matchAll(/`(?:mtls_gateway_)?([a-z][a-z0-9_]*_(?:total|seconds|bytes|info))(?:\{[^`}]*\})?`/g)].map((m) => m[1] as string)
}

/** Invocations of the gateway's CLI in a doc: the command words and the flags given. */
export function cliInvocations(text: string): { command: string; flags: string[]; line: number }[] {
  const out: { command: string; flags: string[]; line: number }[] = []
  for (const m of text.matchAll(/(?:^|[\s`(])(?:npx mtls-gateway|mtls-gateway|node dist\/src\/main\.js|<image>) ((?:oauth1 sign|pki interception-ca|store reseal|serve|check|pki|test-auth|test-endpoint)\b(?:[^\n`|#\\]|\\\n|\\)*)/gm)) {
    const words = (m[1] as string).replace(/\\\n/g, ' ').split(/\s+/)
    const command = words[0] === 'oauth1' || words[0] === 'store' || (words[0] === 'pki' && words[1] === 'interception-ca') ? `${words[0]} ${words[1]}` : (words[0] as string)
    const flags = words.filter((w) => /^--?[a-zA-Z]/.test(w)).map((w) => w.replace(/=.*$/, ''))
    out.push({ command, flags, line: lineOf(text, m.index + m[0].indexOf(m[1] as string)) })
  }
  return out
}

/** Invocations of the bench's two programs in a doc (`npm run bench -- …`, `node dist/bench/run.js …`): the program's file and the flags given. */
export function benchInvocations(text: string): { program: string; flags: string[]; line: number }[] {
  const out: { program: string; flags: string[]; line: number }[] = []
  for (const m of text.matchAll(/(?:npm run bench(:instructions)? --|node dist\/bench\/(run|instructions)\.js)((?:[^\n`|#\\]|\\\n|\\)*)/g)) {
    const program = m[1] || m[2] === 'instructions' ? 'dist/bench/instructions.js' : 'dist/bench/run.js'
    const flags = (m[3] as string).replace(/\\\n/g, ' ').split(/\s+/).filter((w) => /^--[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''))
    out.push({ program, flags, line: lineOf(text, m.index) })
  }
  return out
}

describe('docs: what README.md and docs/*.md name exists', () => {
  it('every relative link and anchor resolves inside the repository', () => {
    expect(DOCS.flatMap((d) => brokenLinks(d, readRepoFile))).toEqual([])
  })

  it('every repository path they quote exists', () => {
    expect(DOCS.flatMap((d) => missingPaths(d, existsSync))).toEqual([])
  })

  it('every yaml example is a valid gateway config or valid chart values', () => {
    const blocks = DOCS.flatMap(yamlBlocks)
    expect(blocks.length).toBeGreaterThan(5)
    expect(blocks.flatMap(yamlExampleProblems)).toEqual([])
  })

  it('merges a values example over the chart defaults as Helm does: a null deletes the default, a wrong type is still refused', () => {
    const example = (value: Record<string, unknown>): string[] => yamlExampleProblems({ at: 'x.md:1', value })
    expect(example({ podSecurityContext: { runAsUser: null, fsGroup: null } })).toEqual([])
    expect(example({ podSecurityContext: { runAsUser: 'root' } })).toEqual(['x.md:1: values/podSecurityContext/runAsUser must be integer'])
  })

  it('every config key path they quote is a key of the gateway config or of the chart values', () => {
    expect(DOCS.flatMap((d) => unknownKeyPaths(d, [GATEWAY_SCHEMA, VALUES_SCHEMA]))).toEqual([])
  })

  it('every MTLS_GATEWAY_* variable they name is read by the code', () => {
    const code = codeText()
    const named = new Set(DOCS.flatMap((d) => [...d.text.matchAll(/MTLS_GATEWAY_[A-Z0-9_]+/g)].map((m) => m[0])))
    expect([...named].filter((v) => !new RegExp(`\\b${v}\\b`).test(code))).toEqual([])
  })

  it('every MTLS_GATEWAY_* variable the gateway, its scripts or the bench read is named in the docs', () => {
    const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : /\.(ts|sh)$/.test(n) ? [join(dir, n)] : []))
    const read = new Set(['src', 'scripts', 'bench'].flatMap(files).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/MTLS_GATEWAY_[A-Z0-9_]+/g)].map((m) => m[0])))
    // Set by scripts/test.sh for test/delivery/runtime.test.ts, not a setting of anyone's.
    read.delete('MTLS_GATEWAY_TEST_NODE')
    const docs = DOCS.map((d) => d.text).join('\n')
    expect([...read].filter((v) => !new RegExp(`\\b${v}\\b`).test(docs))).toEqual([])
  })

  it('every metric they name is registered, and every registered one is in the README', () => {
    const registered = registeredMetrics()
    expect(registered.size).toBeGreaterThan(20)
    // prom-client's default process_* and nodejs_* families are the library's, not the gateway's.
    const unknown = DOCS.flatMap((d) => quotedMetrics(d.text).filter((n) => !registered.has(n) && !/^(process|nodejs)_/.test(n)).map((n) => `${d.file}: ${n}`))
    expect(unknown).toEqual([])
    const readme = DOCS[0]?.text ?? ''
    expect([...registered].filter((n) => !new RegExp(`\\b(mtls_gateway_)?${n}\\b`).test(readme))).toEqual([])
  })

  it('every `npm run X` is a script of package.json', () => {
    const scripts = Object.keys((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: object }).scripts)
    const unknown = DOCS.flatMap((d) => [...d.text.matchAll(/npm run ([\w:-]+)/g)].filter((m) => !scripts.includes(m[1] as string)).map((m) => `${d.file}:${lineOf(d.text, m.index)}: npm run ${m[1]}`))
    expect(unknown).toEqual([])
  })

  it("every flag given to the gateway's CLI is one its command's --help lists", () => {
    assertDistFresh()
    const invocations = DOCS.flatMap((d) => cliInvocations(d.text).map((i) => ({ ...i, file: d.file })))
    expect(new Set(invocations.map((i) => i.command)).size).toBeGreaterThanOrEqual(4)
    const helps = new Map<string, string>()
    const helpOf = (command: string): string => {
      const known = helps.get(command)
      if (known !== undefined) return known
      const text = execFileSync(process.execPath, ['dist/src/main.js', ...command.split(' ').slice(0, command.startsWith('oauth1') || command.startsWith('store') ? 2 : 1), '--help'], { encoding: 'utf8' })
      helps.set(command, text)
      return text
    }
    const unknown = invocations.flatMap((i) => i.flags.filter((f) => !new RegExp(`(^|[\\s,])${f}(?![\\w-])`).test(helpOf(i.command))).map((f) => `${i.file}:${i.line}: ${i.command} ${f}`))
    expect(unknown).toEqual([])
  })

  it("every flag given to the bench is one its program's --help lists", () => {
    assertDistFresh(['src', 'bench'])
    const invocations = DOCS.flatMap((d) => benchInvocations(d.text).map((i) => ({ ...i, file: d.file })))
    expect(invocations.length).toBeGreaterThan(10)
    const helps = new Map([...new Set(invocations.map((i) => i.program))].map((p) => [p, execFileSync(process.execPath, [p, '--help'], { encoding: 'utf8' })]))
    // Both programs answer --help with the usage they print; it does not list itself.
    const unknown = invocations.flatMap((i) => i.flags.filter((f) => f !== '--help' && !new RegExp(`(^|\\s)${f}(?![\\w-])`).test(helps.get(i.program) ?? '')).map((f) => `${i.file}:${i.line}: ${i.program} ${f}`))
    expect(unknown).toEqual([])
  })
})

describe('docs checks find what is broken', () => {
  const doc = (text: string): Doc => ({ file: 'docs/x.md', text })
  const files: Record<string, string> = { 'docs/x.md': '# X\n\n## Two words\n', 'README.md': '# R\n' }
  const read = (f: string): string | undefined => files[f]

  it('links: a missing file, a missing heading, a path outside', () => {
    expect(brokenLinks(doc('[a](x.md#two-words) [b](#x) [c](../README.md)\n```\n[d](gone.md)\n```\n'), read)).toEqual([])
    expect(brokenLinks(doc('[a](gone.md)\n[b](x.md#three-words)\n[c](../../shared/PRODUCT.md)\nsee ../shared/ARCHITECTURE.md\n'), read)).toEqual([
      'docs/x.md:1: gone.md (no such file)',
      'docs/x.md:2: x.md#three-words (no such heading)',
      'docs/x.md:3: ../../shared/PRODUCT.md (outside the repository)',
      'docs/x.md:3: ../shared (outside the repository)',
      'docs/x.md:4: ../shared (outside the repository)',
    ])
  })

  it('anchors follow GitHub: punctuation dropped, repeats numbered', () => {
    expect([...anchorsOf('# A, b: `c`!\n## A, b: `c`!\n### TRACE, OPTIONS and Max-Forwards\n')]).toEqual(['a-b-c', 'a-b-c-1', 'trace-options-and-max-forwards'])
  })

  it('paths: a renamed source file is named', () => {
    expect(missingPaths(doc('`src/cli/serve.ts` and bench/micro.js, `test/{a,b}.ts`, `test/{c,*}.ts`'), (p) => ['bench/micro.ts', 'src/cli/gateway-root.ts', 'test/a.ts'].includes(p))).toEqual(['docs/x.md:1: src/cli/serve.ts', 'docs/x.md:1: test/b.ts'])
  })

  it('yaml: an unknown key, a wrong type, and an indented block that continues the previous one', () => {
    const blocks = yamlBlocks(doc('```yaml\nadmin:\n  port: 9090\n```\n\n```yaml\n  host: 127.0.0.1\n```\n'))
    expect(blocks.map((b) => b.value)).toEqual([{ admin: { port: 9090 } }, { admin: { port: 9090, host: '127.0.0.1' } }])
    expect(gatewayExampleProblems({ admin: { port: 9090 } })).toEqual([])
    expect(gatewayExampleProblems({ tracing: { enabled: 'yes', sampler: { ratoi: 0.5 } } }).length).toBe(2)
    expect(gatewayExampleProblems({ store: { kind: 'redis', url: 'redis://r:6379', sealKeys: [{ id: 'k1', key: '${file:/etc/seal/k1}' }] } })).toEqual([])
  })

  it('keys: a misspelt key path is named, a Helm value and a value after the key are read', () => {
    const schema: SchemaNode = { properties: { listen: { properties: { tls: { properties: { clientCa: { type: 'string' } } } } }, endpoints: { type: 'array', items: { $ref: '#/definitions/e' } } as SchemaNode }, definitions: { e: { properties: { name: { type: 'string' } } } } } as SchemaNode
    const values: SchemaNode = { properties: { endpoints: { items: { properties: { secretName: { type: 'string' } } } }, resources: { type: 'object' } } }
    expect(unknownKeyPaths(doc('`listen.tls.clientCa`, `listen.tls.clientCA`, `endpoints[].name: partner`, `endpoints[].secretName`, `endpoints[].nmae`, `x.y`, `resources.limits.cpu`, `listen.tls.clientCa.x`, `config/gateway.yaml`'), [schema, values])).toEqual(['docs/x.md:1: listen.tls.clientCA', 'docs/x.md:1: endpoints[].nmae', 'docs/x.md:1: listen.tls.clientCa.x'])
  })

  it('bench: the program and its flags', () => {
    expect(benchInvocations('npm run bench -- --quick --paths a \\\n  --rounds 1\n`npm run bench:instructions -- --node x`\nnode dist/bench/run.js --help # --not-this\n')).toEqual([
      { program: 'dist/bench/run.js', flags: ['--quick', '--paths', '--rounds'], line: 1 },
      { program: 'dist/bench/instructions.js', flags: ['--node'], line: 3 },
      { program: 'dist/bench/run.js', flags: ['--help'], line: 4 },
    ])
  })

  it('cli: the command and its flags, across continued lines', () => {
    expect(cliInvocations('x\nnode dist/src/main.js serve --config c.yaml \\\n  --workers 2 &\n`mtls-gateway oauth1 sign --url U --nonce=n`, `<image> check --config …`\n')).toEqual([
      { command: 'serve', flags: ['--config', '--workers'], line: 2 },
      { command: 'oauth1 sign', flags: ['--url', '--nonce'], line: 4 },
      { command: 'check', flags: ['--config'], line: 4 },
    ])
  })
})
