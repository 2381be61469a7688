/**
 * A `via` dial that fails for want of file descriptors (EMFILE: the gateway at its nofile limit)
 * answers 503 fd_exhausted naming the connector and the CONNECT target the dial was for, as a
 * refused connection to the connector does (connector-closed.test.ts). Before, its message named
 * neither: `out of file descriptors (EMFILE): cannot open a connection` (the tunnel's own error,
 * which named only the proxy, was dropped). A spawned gateway whose soft descriptor limit is set,
 * by prlimit, to its lowest free descriptor while the caller's kept-alive connection is open.
 */
import { Agent, request as httpRequest } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml } from '../support/pki.js'
import { headPeers } from '../support/head-peers.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import type { GatewayProcess } from '../support/process.js'
import { atDescriptorLimit, eventually } from '../ops/helpers.js'

const use = useSpawnedGateways()
const peers = headPeers()
let connector: number
let gp: GatewayProcess

beforeAll(async () => {
  // A connector that would answer; the gateway never gets a socket to reach it.
  connector = await peers.listen(peers.peer((s) => s.end('HTTP/1.1 200 Connection established\r\n\r\n')))
  const file = join(use.pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nstore: { file: ${join(use.pki.dir, 'gw.db')} }\nendpoints:\n` +
    `  - name: partner\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${connector}" }\n    tls: ${clientTlsYaml(use.pki)}\n`)
  gp = await use.spawn(file, ['--workers', '1'])
})
afterAll(() => peers.close())

/** GET over `agent` (kept alive: its connection exists before the descriptors run out). */
function get(agent: Agent, url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as unknown }))
    }).on('error', reject).end()
  })
}

describe('a via dial out of file descriptors', () => {
  it('is a 503 fd_exhausted naming the connector and the CONNECT target, on the wire and in the access line', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      // Opens the caller's connection, and loads what the first call through the connector loads (modules are read
      // on first use: at the limit their files could not be opened). The connector's 200 ends before any TLS: a 502.
      expect((await get(agent, `${gp.url}/proxy/partner/warm`)).status).toBe(502)
      const accessLine = (from: number) => () => gp.logEntries(from).find((e) => e.msg === 'request' && e.endpoint === 'partner')
      await eventually(accessLine(0), 30_000, 'the warm-up\'s access line')
      const from = gp.output.length
      const answer = await atDescriptorLimit(gp.child.pid as number, () => get(agent, `${gp.url}/proxy/partner/x`))
      const msg = `endpoint "partner": upstream proxy 127.0.0.1:${connector}: out of file descriptors (EMFILE): cannot open a connection, before CONNECT api.partner.test:443 was sent`
      expect(answer).toEqual({ status: 503, body: { errors: [{ msg, code: 503 }] } })
      const line = await eventually(accessLine(from), 30_000, 'the access line')
      expect(line).toMatchObject({ status: 503, reason: 'fd_exhausted', error: msg })
    } finally {
      agent.destroy()
    }
  })
})
