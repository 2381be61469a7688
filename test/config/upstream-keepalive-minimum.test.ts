/**
 * `endpoints[].timeouts.keepAlive` is at least 1 ms. undici's pool refuses a keep-alive of 0 ms when
 * it makes a connection: `keepAlive: 0` (or `0.4ms`) loaded, and then every call to that endpoint was
 * a 502 "upstream request failed (UND_ERR_INVALID_ARG)" (seen with `serve` and openssl s_server). Any
 * written value that rounds to 0 ms is now refused where the file is read, naming the key and the
 * value; any from 1 ms on loads as written, and the real gateway calls a real mTLS upstream with it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { parseConfig, parseDuration } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const FILE = '/etc/mtls-gateway/gateway.yaml'

const yaml = (keepAlive: string | number): string =>
  stringify({ endpoints: [{ name: 'partner', url: 'https://api.partner.test', tls: { cert: 'c.pem', key: 'k.pem', roots: 'r.pem' }, timeouts: { keepAlive } }] })

it('refuses any keepAlive that is 0 ms once rounded, naming the key and the value', () => {
  const zero = fc.oneof(fc.constantFrom(0, '0ms', '0s', '0m', '0h', '0.4ms', '0.0001s'), fc.integer({ min: 0, max: 4 }).map((d) => `0.${d}ms`))
  fc.assert(
    fc.property(zero, (value) => {
      expect(configErrorLines(() => parseConfig(FILE, yaml(value), { env: {} }))).toEqual([
        expect.stringMatching(new RegExp(`^${FILE}:\\d+:\\d+: endpoints\\[0\\]\\.timeouts\\.keepAlive: ${String(value).replace('.', '\\.')} is less than 1ms: an idle pooled connection is kept for some time`)),
      ])
    }),
    { seed: 0x6ea1, numRuns: 30 },
  )
})

it('loads any keepAlive from 1 ms on as written', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 1, max: 600_000 }), fc.constantFrom('1ms', '0.5ms', '0.001s', '60s', '596h')), (value) => {
      expect(parseConfig(FILE, yaml(value), { env: {} }).endpoints[0]?.timeouts.keepAliveMs).toBe(parseDuration(value))
    }),
    { seed: 0x6ea1, numRuns: 30 },
  )
})

let pki: TestPki
let upstream: RunningServer
let dir: string

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (_req, res) => res.end('ok') })
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-keepalive-'))
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

const gatewayYaml = (keepAlive: string): string => `admin: { enabled: false }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), `    timeouts: { keepAlive: ${keepAlive} }\n`)}`

it('the real gateway calls its mTLS upstream with keepAlive at the minimum, and refuses to start with 0', async () => {
  const gw = await startTestGateway(dir, gatewayYaml('1ms'))
  try {
    for (let i = 0; i < 3; i++) expect((await send(gw.url, `/proxy/partner/x${i}`)).status).toBe(200)
  } finally {
    await gw.close()
  }
  await expect(startTestGateway(dir, gatewayYaml('0'))).rejects.toThrow(/endpoints\[0\]\.timeouts\.keepAlive: 0 is less than 1ms/)
})
