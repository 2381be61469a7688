/**
 * Caller-app and gateway-key problems (found when the apps are compiled, after the file is loaded)
 * name the file, line, column and key, as the loader's own problems do: in `check`, at a start
 * (`--workers 2`) and in a refused reload's log, in the same words. Problems of both lists are
 * reported at once. Before, they named the file and key only (`g.yaml: callers.apps[1].clientId: …`),
 * and a gateway key's problem only showed once the apps were fixed.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exitedOf, MAIN, spawnGateway, type GatewayProcess } from '../support/process.js'
import { refusedReloadProblems, replaceFile } from '../ops/helpers.js'

const SECRET = 'a-secret-of-at-least-thirty-two-bytes-long'
let dir: string
let gp: GatewayProcess | undefined

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-caller-lines-'))
})
afterAll(async () => {
  await gp?.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

/** Line 6: a short secret; line 13: a duplicate client id; line 19: an unreadable gateway key. */
function yaml(bad: boolean): string {
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
callers:
  apps:
    - clientId: a
      hs256Secret: "${bad ? 'short' : SECRET}"
      audience: x
      endpoints: ["*"]
    - clientId: b
      hs256Secret: "${bad ? SECRET : `${SECRET}-b`}"
      audience: x
      endpoints: ["*"]
    - clientId: ${bad ? 'b' : 'c'}
      audience: x
      endpoints: ["*"]
      hs256Secret: "${SECRET}-c"
  gatewayKeys:${bad ? `
    - kid: k
      privateKey: "not a key"` : ' []'}
endpoints: []
`
}

function expected(file: string): string[] {
  return [
    `${file}:6:20: callers.apps[0].hs256Secret: hs256Secret must be at least 32 bytes`,
    `${file}:13:17: callers.apps[2].clientId: duplicate client id "b"`,
  ]
}

const isProblem = (file: string) => (l: string): boolean => l.startsWith(`${file}:`)

describe('caller-app problems at their line', () => {
  it('check prints them with file:line:column, the gateway key\'s too', async () => {
    const file = join(dir, 'check.yaml')
    writeFileSync(file, yaml(true))
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check', '--config', file]).then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e)
    expect(r?.code).toBe(1)
    const lines = `${r?.stdout}${r?.stderr}`.split('\n').filter(isProblem(file))
    expect(lines.slice(0, 2)).toEqual(expected(file))
    expect(lines[2]).toMatch(new RegExp(`^${file}:19:19: callers\\.gatewayKeys\\[0\\]\\.privateKey: key "k" cannot be read`))
    expect(lines).toHaveLength(3)
  })

  it('a start (--workers 2) refuses in check\'s words, and so does a reload', async () => {
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, yaml(true))
    const child = spawn(process.execPath, [MAIN, 'serve', '--workers', '2', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (c: string) => (output += c))
    expect(await exitedOf(child)).toBe(1)
    const started = output.split('\n').map((l) => l.replace(/^mtls-gateway: /, '')).filter(isProblem(file))
    expect(started.slice(0, 2)).toEqual(expected(file))

    writeFileSync(file, yaml(false))
    gp = await spawnGateway(file, ['--workers', '2'])
    const from = gp.output.length
    replaceFile(file, yaml(true))
    gp.child.kill('SIGHUP')
    const problems = (await refusedReloadProblems(gp, from)) as string[]
    expect(problems.slice(0, 2)).toEqual(expected(file))
    expect(problems).toHaveLength(3)
  })
})
