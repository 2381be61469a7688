/**
 * The upstream side of each access line (address, TLS version, reused or new) belongs to the
 * connection that carried that very request. It used to be matched by the X-Request-Id, which
 * a caller may set: concurrent calls repeating one id (a bot platform's conversation turn
 * fanning out) got each other's facts or none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type ClientTls, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { join } from 'node:path'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
// The upstream holds every answer until the whole batch has arrived, so that the batch's
// requests are all in flight at once; a timer lets a short batch go rather than hang.
let batch = 0
let held: [IncomingMessage, ServerResponse][] = []
const release = (): void => {
  const now = held
  held = []
  for (const [req, res] of now) echo(req, res)
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      held.push([req, res])
      if (held.length >= batch) release()
      else setTimeout(release, 3000).unref()
    },
  })
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls())}`)
})

const tls = (): ClientTls => clientTls(pki)

/** One batch of concurrent calls with these ids (undefined: none); checks each access line's upstream facts. */
async function fanOut(ids: readonly (string | undefined)[]): Promise<void> {
  const before = g.access().length
  const handshakes = upstream.stats.handshakes
  batch = ids.length
  const replies = await Promise.all(ids.map((x) => send(g.gw.url, '/proxy/partner/fan-out', x === undefined ? {} : { headers: { 'x-request-id': x } })))
  expect(replies.map((r) => r.status)).toEqual(ids.map(() => 200))
  await eventually(() => g.access().length === before + ids.length, 15_000, `${ids.length} access lines`)
  const lines = g.access().slice(before)
  for (const line of lines) expect(line).toMatchObject({ upstreamAddress: '127.0.0.1', tlsVersion: 'TLSv1.3', connectionReused: expect.any(Boolean) })
  // A line says "new connection" exactly as often as the upstream saw one.
  expect(lines.filter((l) => l.connectionReused === false)).toHaveLength(upstream.stats.handshakes - handshakes)
}

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('upstream facts in the access line', () => {
  it('are each request\'s own when concurrent calls repeat one X-Request-Id (25 batches)', async () => {
    // Ids from a set of two, or none (the gateway makes one): every batch of 2+ repeats some.
    const id = fc.option(fc.constantFrom('turn-7', 'turn-8'), { nil: undefined })
    await fc.assert(
      fc.asyncProperty(fc.array(id, { minLength: 2, maxLength: 6 }), fanOut),
      { seed: 0x7e57, numRuns: 25 },
    )
  })

  it('are each request\'s own after a hot reload as after the start (the unchanged endpoint\'s kept pool, the same observer)', async () => {
    replaceFile(join(pki.dir, 'gateway.yaml'), `endpoints:\n${endpointYaml('partner', upstream.port, tls())}${endpointYaml('other', upstream.port, tls())}`)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 15_000, 'the reload')
    await fanOut(['turn-7', 'turn-7', undefined, 'turn-8', 'turn-7'])
  })
})
