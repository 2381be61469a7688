/**
 * Renders helm/mtls-gateway with the test-only renderer (test/support/helm-render: Go's
 * text/template + sprig + Helm's include/tpl/toYaml/required/fail), built from Debian's Go
 * packages once until its sources or the packages change (goBinary). Helm itself cannot be installed on this machine. One renderer
 * process per test file (`helm-render --serve`) answers every render: starting it and parsing
 * the templates per render was most of the time of the property tests.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { parseAllDocuments, parse } from 'yaml'
import { goBinary } from '../support/go-build.js'

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
  /** Ends the renderer process (settles once it has exited) and removes the temp dir. */
  cleanup(): Promise<void>
}

/** What one run of the renderer's command line printed, and its exit code. */
export interface RenderRun {
  stdout: string
  stderr: string
  status: number
}

export interface Rendered {
  text: string
  docs: Manifest[]
  /** The one manifest of this kind (and name, if given); throws when absent or ambiguous. */
  get(kind: string, name?: string): Manifest
  all(kind: string): Manifest[]
  /** The `helm test` hooks (get and all leave them out: `helm install` does not create them). */
  tests(): Manifest[]
  /** The gateway YAML the ConfigMap carries, parsed. */
  gatewayConfig(): Record<string, any>
}

/** Installs the Debian tools if missing (idempotent), builds the renderer unless built, and starts it; `dir` is a temp dir of its own. */
export function buildRenderer(): Renderer {
  execFileSync('bash', ['scripts/install-delivery-tools.sh'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const dir = mkdtempSync(join(tmpdir(), 'helm-render-'))
  const bin = goBinary('./test/support/helm-render')
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
  const server = serveRenderer(bin)
  const ok = async (a: string[]): Promise<string> => {
    const r = await server.run(a)
    if (r.status !== 0) throw new Error(`helm-render ${a.join(' ')} failed (exit ${r.status}):\n${r.stderr}`)
    return r.stdout
  }
  return {
    bin,
    dir,
    render: async (files, extra) => rendered(await ok(args(files, extra))),
    values: async (files) => JSON.parse(await ok(['--show-values', ...args(files)])) as Record<string, unknown>,
    async renderError(files, extra) {
      const r = await server.run(args(files, extra))
      if (r.status === 0) throw new Error('render succeeded but was expected to fail')
      return r.stderr
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true })
      await server.stop()
    },
  }
}

export interface RendererServer {
  readonly pid: number | undefined
  /** One run of the command line (`helm-render ...args`), as the one-shot run would print it. */
  run(args: string[]): Promise<RenderRun>
  /** Ends the process; the promise settles once it has exited. */
  stop(): Promise<void>
}

/** `helm-render --serve`: one request line in, one answer line out, in order (see main.go). */
export function serveRenderer(bin: string): RendererServer {
  const child = spawn(bin, ['--serve'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting: { resolve(r: RenderRun): void; reject(e: Error): void }[] = []
  let ended: Error | undefined
  const end = (e: Error): void => {
    ended ??= e
    for (const w of waiting.splice(0)) w.reject(ended)
  }
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    const w = waiting.shift()
    if (w) w.resolve(JSON.parse(line) as RenderRun)
    else end(new Error(`helm-render --serve answered with nothing asked: ${line.slice(0, 200)}`))
  })
  child.on('error', end)
  child.stdin.on('error', end) // EPIPE once the process is gone: its exit rejects what waits
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  child.on('exit', (code, signal) => end(new Error(`helm-render --serve exited (${signal ?? code})`)))
  return {
    pid: child.pid,
    run: (a) =>
      new Promise((resolve, reject) => {
        if (ended) return reject(ended)
        waiting.push({ resolve, reject })
        child.stdin.write(`${JSON.stringify({ args: a })}\n`)
      }),
    stop() {
      end(new Error('helm-render --serve stopped'))
      child.stdin.end()
      child.kill()
      return exited
    },
  }
}

/** The documents of a YAML text, parsed strictly: duplicate keys, errors and warnings throw. */
function parseManifests(text: string): Manifest[] {
  const docs: Manifest[] = []
  for (const doc of parseAllDocuments(text, { uniqueKeys: true, strict: true })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`)
    if (doc.warnings.length > 0) throw new Error(`rendered YAML has warnings: ${doc.warnings.map((e) => e.message).join('; ')}`)
    const value = doc.toJS() as Manifest | null
    if (value !== null) docs.push(value)
  }
  return docs
}

/**
 * Parsed documents by their text. Most renders of a test file repeat most manifests (a property
 * varies one or two), and parsing was half of a render's time. A line "---" always starts a
 * document in a YAML stream, so each piece between them parses alone as in the whole text; only
 * directives ("%…", after an explicit end "...") reach into the next document: then the whole
 * text is parsed. Each answer is a copy: a test may change what it gets.
 */
const parsedPieces = new Map<string, Manifest[]>()
const DOCUMENT_START = /^(?=---$)/m
const CROSSES_DOCUMENTS = /^(%|\.\.\.)/m

export function parseRendered(text: string): Manifest[] {
  if (CROSSES_DOCUMENTS.test(text)) return parseManifests(text)
  if (parsedPieces.size > 20_000) parsedPieces.clear()
  return text.split(DOCUMENT_START).flatMap((piece) => {
    let docs = parsedPieces.get(piece)
    if (!docs) parsedPieces.set(piece, (docs = parseManifests(piece)))
    return structuredClone(docs)
  })
}

function rendered(text: string): Rendered {
  const docs = parseRendered(text)
  // The release's objects: `helm test` hooks are created only by `helm test` (tests() has them).
  const isTest = (d: Manifest): boolean => d.metadata?.annotations?.['helm.sh/hook'] === 'test'
  const all = (kind: string): Manifest[] => docs.filter((d) => d.kind === kind && !isTest(d))
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
    tests: () => docs.filter(isTest),
    gatewayConfig() {
      const cm = all('ConfigMap').find((d) => typeof d.data?.['gateway.yaml'] === 'string')
      if (!cm) throw new Error('no ConfigMap with gateway.yaml')
      return parse(cm.data['gateway.yaml'] as string) as Record<string, any>
    },
  }
}
