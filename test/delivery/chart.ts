/**
 * Renders helm/mtls-gateway with the test-only renderer (test/support/helm-render: Go's
 * text/template + sprig + Helm's include/tpl/toYaml/required/fail), built once per test file
 * from Debian's Go packages. Helm itself cannot be installed on this machine.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { parseAllDocuments, parse } from 'yaml'

const run = promisify(execFile)
export const CHART = resolve('helm/mtls-gateway')
export const TEST_VALUES = ['minimal', 'full', 'redis-replicas'] as const
export const valuesFile = (name: string): string => resolve(`helm/tests/${name}.yaml`)

export type Manifest = Record<string, any>

export interface Renderer {
  readonly bin: string
  readonly dir: string
  /** Renders with these values files (in order); `extra` is written to one more values file. */
  render(files: string[], extra?: string): Promise<Rendered>
  /** The merged values (chart defaults + files), as Helm passes them to the schema check. */
  values(files: string[]): Promise<Record<string, unknown>>
  /** A render expected to fail: its stderr. */
  renderError(files: string[], extra?: string): Promise<string>
  cleanup(): void
}

export interface Rendered {
  text: string
  docs: Manifest[]
  /** The one manifest of this kind (and name, if given); throws when absent or ambiguous. */
  get(kind: string, name?: string): Manifest
  all(kind: string): Manifest[]
  /** The gateway YAML the ConfigMap carries, parsed. */
  gatewayConfig(): Record<string, any>
}

/** Installs the Debian tools if missing (idempotent), then builds the renderer into a temp dir. */
export function buildRenderer(): Renderer {
  execFileSync('bash', ['scripts/install-delivery-tools.sh'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const dir = mkdtempSync(join(tmpdir(), 'helm-render-'))
  const bin = join(dir, 'helm-render')
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', CGO_ENABLED: '0', GOCACHE: process.env.GOCACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/go-build') }
  const built = spawnSync('go', ['build', '-o', bin, './test/support/helm-render'], { env, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`go build of the renderer failed:\n${built.stderr}`)
  let n = 0
  const args = (files: string[], extra?: string): string[] => {
    const all = [...files]
    if (extra !== undefined) {
      const f = join(dir, `extra-${++n}.yaml`)
      writeFileSync(f, extra)
      all.push(f)
    }
    return [...all.flatMap((f) => ['-f', f]), '--namespace', 'gateway', '--name', 'egress', CHART]
  }
  return {
    bin,
    dir,
    async render(files, extra) {
      const { stdout } = await run(bin, args(files, extra), { maxBuffer: 16 << 20 })
      return rendered(stdout)
    },
    async values(files) {
      const { stdout } = await run(bin, ['--show-values', ...args(files)], { maxBuffer: 16 << 20 })
      return JSON.parse(stdout) as Record<string, unknown>
    },
    async renderError(files, extra) {
      const r = spawnSync(bin, args(files, extra), { encoding: 'utf8' })
      if (r.status === 0) throw new Error('render succeeded but was expected to fail')
      return r.stderr
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

function rendered(text: string): Rendered {
  const docs: Manifest[] = []
  for (const doc of parseAllDocuments(text, { uniqueKeys: true, strict: true })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`)
    if (doc.warnings.length > 0) throw new Error(`rendered YAML has warnings: ${doc.warnings.map((e) => e.message).join('; ')}`)
    const value = doc.toJS() as Manifest | null
    if (value !== null) docs.push(value)
  }
  const all = (kind: string): Manifest[] => docs.filter((d) => d.kind === kind)
  const get = (kind: string, name?: string): Manifest => {
    const found = all(kind).filter((d) => name === undefined || d.metadata?.name === name)
    if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`)
    return found[0] as Manifest
  }
  return {
    text,
    docs,
    get,
    all,
    gatewayConfig() {
      const cm = all('ConfigMap').find((d) => typeof d.data?.['gateway.yaml'] === 'string')
      if (!cm) throw new Error('no ConfigMap with gateway.yaml')
      return parse(cm.data['gateway.yaml'] as string) as Record<string, any>
    },
  }
}
