/**
 * `serve --workers 2` with `listen.tls`: each worker's listener reports the handshakes that fail
 * on it as the single process does (one access line each, from whichever worker held the
 * connection; requests_total and client_timeouts_total summed by the primary), a connection
 * that sent no byte writes no line, and after a hot reload that renews the listener's
 * certificate the callers that trust only the old CA are each one `unknown_ca` line.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient } from '../support/raw-client.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { childPids, eventually, replaceFile, scrape, valueOf } from '../ops/helpers.js'
import { flushedBy } from '../support/log-entries.js'
import { LISTENER_ERROR, PARTIAL_HELLO, curl, listenerTlsYaml } from '../support/listener-tls.js'

let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
let admin: string
let listener: { cert: string; key: string }

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const dir = join(pki.dir, 'workers')
  mkdirSync(dir)
  // The listener's own files, renewed by the reload below.
  listener = pki.writePair('listener', pki.server, { chain: [pki.inter] })
  const endpoints = endpointYaml('partner', upstream.port, clientTls(pki))
  writeFileSync(join(dir, 'gateway.yaml'), listenerTlsYaml(listener, endpoints, 'admin: { host: 127.0.0.1, port: 0 }\n'))
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'])
  admin = await adminUrlOf(gp)
})

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

const port = (): string => new URL(gp.url).port
const entries = (): Record<string, unknown>[] => gp.logEntries()
const access = (): Record<string, unknown>[] => entries().filter((e) => e.msg === 'request')
const metric = async (name: string, labels: Record<string, string>): Promise<number> => valueOf(await scrape(admin), name, labels) ?? 0
const REQUESTS_4XX = { endpoint: '_none', method: 'other', status_class: '4xx' }

/** Exactly `n` access lines after `before` (none more once they are in). */
async function linesAfter(before: number, n: number): Promise<Record<string, unknown>[]> {
  await eventually(() => access().length >= before + n, 30_000, `${n} access lines`)
  // None more: read after a later line of each worker (a call's; those lines aside), as each writes in batches.
  const own = await flushedBy(gp, childPids(gp.child.pid as number), (tag) => curl(['-k', '-H', `x-request-id: ${tag}`, `https://localhost:${port()}/proxy/partner/flush`]))
  const lines = access().slice(before).filter((e) => !own.has(e.reqId as string))
  expect(lines, JSON.stringify(lines)).toHaveLength(n)
  return lines
}

describe('with --workers 2', () => {
  it('each worker reports its failed handshakes; a connection with no byte is no line; the primary sums the samples', async () => {
    const before = access().length
    const requests = await metric('mtls_gateway_requests_total', REQUESTS_4XX)
    const timeouts = await metric('mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'tls_handshake' })
    for (let i = 0; i < 4; i++) {
      const empty = await rawClient(Number(port()))
      empty.socket.end()
      await empty.closed(15_000)
    }
    for (let i = 0; i < 4; i++) await curl([`http://127.0.0.1:${port()}/`])
    for (let i = 0; i < 2; i++) await curl([`https://localhost:${port()}/proxy/partner/x`])
    const stalled = await rawClient(Number(port()))
    stalled.socket.write(PARTIAL_HELLO)
    await stalled.closed(15_000)
    const lines = await linesAfter(before, 7)
    expect(lines.map((l) => l.error).sort()).toEqual([...Array(4).fill(LISTENER_ERROR.plainHttp), LISTENER_ERROR.timeout, ...Array(2).fill(LISTENER_ERROR.unknownCa)].sort())
    expect(new Set(lines.map((l) => l.pid)).size).toBe(2)
    expect(lines.map((l) => l.pid)).not.toContain(gp.child.pid)
    await eventually(async () => (await metric('mtls_gateway_requests_total', REQUESTS_4XX)) === requests + 7, 20_000, 'seven 4xx samples')
    expect(await metric('mtls_gateway_client_timeouts_total', { listener: 'proxy', reason: 'tls_handshake' })).toBe(timeouts + 1)
  })

  it('after a reload renews the listener\'s certificate: callers trusting only the old CA are one unknown_ca line each, on both workers', async () => {
    const newRoot = await pki.issue({ subject: 'CN=Renewed Root', ca: true })
    const renewed = await pki.issue({ subject: 'CN=localhost', issuer: newRoot, usages: ['serverAuth'], names: ['localhost', '127.0.0.1'] })
    const rootFile = pki.write('renewed-root.crt', newRoot.pem)
    const fresh = pki.writePair('renewed', renewed)
    const logged = entries().length
    // The watch may try the files between the two writes (a key of another certificate): that
    // reload fails and keeps the old; the signal after both reloads them.
    replaceFile(listener.cert, renewed.pem)
    replaceFile(listener.key, readFileSync(fresh.key, 'utf8'))
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(entries().slice(logged).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
    const before = access().length
    // Four connections in a row reach both workers: each serves the new certificate.
    for (let i = 0; i < 4; i++) expect(await curl(['--cacert', rootFile, `https://localhost:${port()}/proxy/partner/after`])).toContain('/after')
    for (let i = 0; i < 4; i++) await curl(['--cacert', pki.file('root.crt'), `https://localhost:${port()}/proxy/partner/x`])
    const all = await linesAfter(before, 8)
    expect(all.filter((l) => l.mode === 'route').map((l) => l.status)).toEqual([200, 200, 200, 200])
    const lines = all.filter((l) => l.mode === 'other')
    expect(lines.map((l) => l.error)).toEqual(Array(4).fill(LISTENER_ERROR.unknownCa))
    expect(new Set(lines.map((l) => l.pid)).size).toBe(2)
  })
})
