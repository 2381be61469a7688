/**
 * A `--workers` replacement after an accepted reload that changed only a referenced file (the
 * config text the same, as in every certificate or secret rotation): it builds the current
 * config from the files the reload accepted, not from those of the instance's start. Before,
 * the replacement reused its start config whenever the two texts were equal, so its `${file:}`
 * values were the start's: the replacement sent the rotated-away secret, its siblings the new one.
 *
 * Real processes: `serve --workers 2`, a real TLS upstream echoing each request's headers, one
 * new connection per request so the primary hands them to both workers.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { eventually, replaceFile } from './helpers.js'

let pki: TestPki
let gp: GatewayProcess
let upstream: RunningServer

const entries = (): Record<string, unknown>[] => gp.output.filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as Record<string, unknown>)

/** The X-Org header the upstream saw for `n` requests, each on a new connection. */
async function seen(n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await send(gp.url, `/proxy/partner/x${i}`)
    expect(r.status).toBe(200)
    out.push(String(r.json<EchoReply>().headers['x-org']))
  }
  return out
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  writeFileSync(join(pki.dir, 'org-secret'), 'alpha-org-secret\n', { mode: 0o600 })
  const config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, tls, '    fields: [{ type: header, key: X-Org, value: "${file:org-secret}" }]\n')}`)
  gp = await spawnGateway(config, ['--workers', '2'])
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

describe('a replacement worker after an accepted reload that changed only a referenced file', () => {
  it('sends the secret the reload accepted, as its siblings do', async () => {
    expect(await seen(4)).toEqual(Array(4).fill('alpha-org-secret'))
    replaceFile(join(pki.dir, 'org-secret'), 'bravo-org-secret\n')
    const primary = gp.child.pid as number
    process.kill(primary, 'SIGHUP')
    await eventually(() => entries().filter((e) => e.msg === 'config reloaded').length >= 2, 30_000, 'both workers to reload')
    expect(await seen(4)).toEqual(Array(4).fill('bravo-org-secret'))
    const workers = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    expect(workers).toHaveLength(2)
    process.kill(workers[0] as number, 'SIGKILL')
    await eventually(() => entries().some((e) => e.msg === 'replacement worker listening'), 60_000, 'the replacement to listen')
    expect(await seen(8)).toEqual(Array(8).fill('bravo-org-secret'))
  }, 180_000)
})
