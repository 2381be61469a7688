/**
 * An answer that closes its connection (`Connection: close`) leaves nothing of it alive through
 * young collections: pipelined.ts made a GatewayError at every such answer (what a request behind
 * it would be told), kept on the connection's lane for as long as its socket lived, and the error's
 * stack held the request's objects, so every socket still referenced after its close (as Node's
 * own lists hold one for a while) kept its whole request through young collections (a `serve`
 * process answering every request on a new connection kept 36.8 % of what it allocated through
 * them, 2.4 % once the error is made only when read; docs/performance.md).
 *
 * Measured in one process (`--workers 1`), in bytes, with nothing in flight: a probe loaded into
 * it (support/young-survivors-probe.mjs) holds every socket of a run of requests after it closed,
 * then runs young collections only and tells what the heap kept. Sockets closed by the gateway's
 * answer keep about what sockets the caller closed after a keep-alive answer keep (about 2.9 KB
 * against 2.6 KB each); the earlier code kept about 8 KB each. How many requests were in flight at
 * each collection, which a loaded machine changes, no longer enters: an earlier form of this test
 * read the share of allocation a run's own scavenges kept from --trace-gc lines, which the CI's
 * parallel files pushed over its bound.
 */
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'

const PROBE = join(import.meta.dirname, '../support/young-survivors-probe.mjs')
const REQUESTS = 400

let pki: TestPki
let gp: GatewayProcess | undefined

beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki.cleanup()
})

/**
 * One request on a connection of its own (the gateway answers 404: no endpoint is called), the
 * answer closing it (`close`), or a keep-alive answer after which the caller closes it.
 */
const once = (url: string, close: boolean): Promise<void> =>
  new Promise((resolve) => {
    const req = request(`${url}/nothing/here`, { agent: false, headers: { connection: close ? 'close' : 'keep-alive' } }, (res) => void (res.resume(), res.on('end', () => (req.destroy(), resolve()))))
    req.on('error', () => resolve())
    req.end()
  })

/** Bytes the heap kept through young collections per socket held after its close, over `REQUESTS` requests. */
async function keptPerSocket(g: GatewayProcess, close: boolean): Promise<number> {
  const probe = async (): Promise<string> => {
    const from = g.output.length
    g.child.kill('SIGUSR2')
    return eventually(() => g.output.slice(from).find((l) => l.startsWith('young-survivors-probe ')), 60_000, 'the probe to answer')
  }
  expect(await probe()).toBe('young-survivors-probe holding')
  for (let i = 0; i < REQUESTS; i++) await once(g.url, close)
  const m = /^young-survivors-probe kept (-?\d+) sockets (\d+)$/.exec(await probe())
  expect(m, 'the probe kept line').not.toBeNull()
  const [kept, sockets] = [Number(m?.[1]), Number(m?.[2])]
  expect(sockets).toBe(REQUESTS)
  return kept / sockets
}

describe('answers that close their connection and young collections', () => {
  it('keep nothing of their request alive: a socket closed by the answer keeps about what one the caller closed keeps', async () => {
    const config = join(pki.dir, 'closing-young.yaml')
    writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`)
    // One process: the probe answers in the one that serves (a cluster's workers are other processes).
    const g = (gp = await spawnGateway(config, ['--workers', '1'], {}, ['sh', '-c', `exec "$0" --expose-gc --import "${PROBE}" "$@"`]))
    // Warm: what the first requests of each kind build once (code, caches) is not counted below.
    for (let i = 0; i < 200; i++) await once(g.url, i % 2 === 0)
    const callerClosed = await keptPerSocket(g, false)
    const answerClosed = await keptPerSocket(g, true)
    expect(callerClosed).toBeGreaterThan(0)
    expect(answerClosed, `bytes per socket: ${answerClosed.toFixed(0)} closed by the answer, ${callerClosed.toFixed(0)} by the caller`).toBeLessThan(1.5 * callerClosed)
  })
})
