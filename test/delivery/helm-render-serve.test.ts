/**
 * The renderer's --serve mode (one process answering every render of a test file) answers
 * exactly what the one-shot command line prints, byte for byte and exit code, and no request
 * sees what an earlier one left: values, template state, a failure. Also the piecewise parse
 * of rendered YAML (chart.ts) against parsing the whole text.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRenderer, CHART, parseRendered, serveRenderer, TEST_VALUES, valuesFile, type RenderRun, type Renderer, type RendererServer } from './chart.js'

let r: Renderer
let server: RendererServer
beforeAll(() => {
  r = buildRenderer()
  server = serveRenderer(r.bin)
}, 5 * 60_000)
afterAll(async () => {
  await server?.stop()
  await r?.cleanup()
})

const oneShot = (args: string[]): RenderRun => {
  const run = spawnSync(r.bin, args, { encoding: 'buffer' })
  return { stdout: run.stdout.toString('utf8'), stderr: run.stderr.toString('utf8'), status: run.status ?? -1 }
}
/** Compared as bytes: the answer went through JSON, the one-shot run did not. */
const bytes = (x: RenderRun): { stdout: Buffer; stderr: Buffer; status: number } => ({ stdout: Buffer.from(x.stdout), stderr: Buffer.from(x.stderr), status: x.status })
const release = ['--namespace', 'gateway', '--name', 'egress', CHART]
const withValues = (...files: string[]): string[] => [...files.flatMap((f) => ['-f', f]), ...release]
let extras = 0
const extraFile = (text: string): string => {
  const file = join(r.dir, `serve-extra-${++extras}.yaml`)
  writeFileSync(file, text)
  return file
}
const NO_MONITOR_PEERS = 'serviceMonitor:\n  enabled: true\n'
// Takes the template paths that change values in place (set on the deepCopy of a probe) and more manifests.
const ADMIN_TLS = 'gateway:\n  adminTls:\n    secretName: admin-tls\nnetworkPolicy:\n  metricsFrom:\n    - podSelector: {matchLabels: {app: prometheus}}\nserviceMonitor:\n  enabled: true\n'

describe('helm-render --serve answers what the one-shot run prints', () => {
  it('renders, --notes, --show-values, template failures, unreadable files and bad arguments: same bytes, same exit code', async () => {
    const cases = [
      ...TEST_VALUES.map((v) => withValues(valuesFile(v))),
      ['--notes', ...withValues(valuesFile('full'))],
      ['--show-values', ...withValues(valuesFile('redis-replicas'))],
      withValues(valuesFile('minimal'), extraFile(NO_MONITOR_PEERS)),
      withValues(valuesFile('minimal'), extraFile('replicaCount: [\n')),
      withValues(join(r.dir, 'absent.yaml')),
      ['--bogus'],
      [],
    ]
    for (const args of cases) {
      const expected = oneShot(args)
      expect(bytes(await server.run(args)), args.join(' ')).toEqual(bytes(expected))
    }
    expect(oneShot(cases[6] as string[]).status).toBe(1)
    expect(oneShot(['--bogus']).status).toBe(2)
  })

  it('renders A, then B, then A again: A is the same both times (values and templates start afresh)', async () => {
    const a = withValues(valuesFile('full'))
    const b = withValues(valuesFile('minimal'), extraFile(ADMIN_TLS))
    const first = await server.run(a)
    const other = await server.run(b)
    expect(other.status).toBe(0)
    expect(other.stdout).toMatch(/scheme: HTTPS/)
    expect(other.stdout).not.toBe(first.stdout)
    expect(await server.run(a)).toEqual(first)
    expect(bytes(first)).toEqual(bytes(oneShot(a)))
    expect(await server.run(b)).toEqual(other)
  })

  it('a template that changes .Values in place changes only its own request\'s copy', async () => {
    const chart = join(r.dir, 'mutating-chart')
    mkdirSync(join(chart, 'templates'), { recursive: true })
    writeFileSync(join(chart, 'Chart.yaml'), 'name: mutating\nversion: 0.1.0\n')
    writeFileSync(join(chart, 'values.yaml'), 'seen: 0\nnested:\n  list: [a]\n')
    writeFileSync(join(chart, 'templates/cm.yaml'), '{{- $_ := set .Values "seen" (add1 .Values.seen) }}{{- $_ := set .Values.nested "list" (append .Values.nested.list "b") }}seen: {{ .Values.seen }}\nlist: {{ toJson .Values.nested.list }}\n')
    const args = withValues(extraFile('other: 1\n')).slice(0, -1).concat(chart)
    const expected = bytes(oneShot(args))
    expect(expected.stdout.toString()).toMatch(/seen: 1\nlist: \["a","b"\]/)
    for (let i = 0; i < 3; i++) expect(bytes(await server.run(args))).toEqual(expected)
  })

  it('a failing render does not affect the next one', async () => {
    const good = withValues(valuesFile('minimal'))
    const failing = withValues(valuesFile('minimal'), extraFile(NO_MONITOR_PEERS))
    const before = await server.run(good)
    const failed = await server.run(failing)
    expect(failed.status).toBe(1)
    expect(failed.stderr).toMatch(/serviceMonitor\.enabled needs networkPolicy\.metricsFrom peers/)
    expect(await server.run(good)).toEqual(before)
    expect(await server.run(failing)).toEqual(failed)
    // The same through the Renderer every test file uses.
    expect(await r.renderError([valuesFile('minimal')], NO_MONITOR_PEERS)).toBe(failed.stderr)
    expect((await r.render([valuesFile('minimal')])).text).toBe(before.stdout)
  })

  it('answers requests sent together in their order', async () => {
    const all = [...TEST_VALUES.map((v) => withValues(valuesFile(v))), withValues(valuesFile('minimal'), extraFile(NO_MONITOR_PEERS))]
    const answers = await Promise.all([...all, ...all].map((args) => server.run(args)))
    expect(answers.map(bytes)).toEqual([...all, ...all].map((args) => bytes(oneShot(args))))
  })

  it('stop() ends the process; a request after it is refused', async () => {
    const own = serveRenderer(r.bin)
    expect((await own.run(withValues(valuesFile('minimal')))).status).toBe(0)
    await own.stop()
    expect(() => process.kill(own.pid as number, 0)).toThrow(/ESRCH/)
    await expect(own.run(withValues(valuesFile('minimal')))).rejects.toThrow(/stopped/)
  })
})

describe('rendered YAML parsed piece by piece', () => {
  const whole = (text: string): unknown[] =>
    parseAllDocuments(text, { uniqueKeys: true, strict: true })
      .map((d) => d.toJS() as unknown)
      .filter((d) => d !== null)

  it('gives the documents the whole text gives, each time a fresh copy', async () => {
    for (const v of TEST_VALUES) {
      const { stdout } = await server.run(withValues(valuesFile(v)))
      const first = parseRendered(stdout)
      expect(first).toEqual(whole(stdout))
      const again = parseRendered(stdout)
      expect(again).toEqual(first)
      expect(again[0]).not.toBe(first[0])
    }
  })

  it('still refuses duplicate keys and syntax errors, also when the text was seen before', () => {
    const ok = '---\n# Source: a\nkind: A\n'
    const duplicate = `${ok}---\n# Source: b\nkind: B\nkind: C\n`
    expect(() => parseRendered(duplicate)).toThrow(/does not parse/)
    expect(() => parseRendered(duplicate)).toThrow(/does not parse/)
    expect(() => parseRendered(`${ok}---\nkey: [\n`)).toThrow(/does not parse/)
    expect(parseRendered(ok)).toEqual([{ kind: 'A' }])
  })

  it('parses the whole text when a directive reaches into the next document', () => {
    // Alone, the second piece would be YAML 1.2, where `yes` is a string.
    const text = '---\nkind: A\n...\n%YAML 1.1\n---\nv: yes\n'
    expect(parseRendered(text)).toEqual([{ kind: 'A' }, { v: true }])
  })
})
