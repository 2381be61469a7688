/**
 * listen.waysIn on a real gateway in front of a real mTLS backend that records every request:
 * a request on a way in left out is a 403 `way_in_disabled` (the standard JSON body, a correct
 * Content-Length) and never reaches the backend; a CONNECT without `connect` is refused before
 * its host is looked up; inner requests of a tunnel are `connect` (absolute-form naming the
 * tunnel included), served without `forward`; counted in way_in_refusals_total{way}; a reload
 * applies to the next request on open connections and tunnels, and closes an open pass-through
 * tunnel, as a fresh start would refuse them. The seeded property: over generated targets,
 * methods and waysIn sets (reloaded in turn), nothing on a way left out reaches the backend.
 * Every address the gateway dials is the configured endpoint's or pass-through host's
 * (127.0.0.1): generated authorities only pick among configured and unconfigured names.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect as netConnect, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startFramingRecorder, type FramingRecorder } from '../support/framing-recorder.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { openTunnel } from '../support/tunnel.js'
import { eventually } from '../support/eventually.js'
import { expectJsonError, readAnswer, type Answer } from '../support/ways-in.js'

type Way = 'forward' | 'connect' | 'route' | 'api'
const ALL: readonly Way[] = ['forward', 'connect', 'route', 'api']

let pki: TestPki
let backend: FramingRecorder
let echo: Server
let gw: RunningGateway
let dir: string
let ca: Buffer
let yamlOf: (ways: readonly Way[]) => string
let metrics: () => Promise<string>
const lines: string[] = []

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startFramingRecorder(pki)
  echo = createServer((s) => s.on('error', () => undefined).pipe(s)).listen(0, '127.0.0.1')
  await new Promise((resolve) => echo.once('listening', resolve))
  dir = mkdtempSync(join(tmpdir(), 'ways-in-'))
  const ica = await writeInterceptionCa(join(dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const echoPort = (echo.address() as AddressInfo).port
  yamlOf = (ways) =>
    `listen: { waysIn: [${ways.join(', ')}] }\nlogging: { callerFaults: { burst: 2, interval: 1h } }\n` +
    `interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey}, passThrough: [{ host: 127.0.0.1, port: ${echoPort}, allowPrivate: true }] }\n` +
    `endpoints:\n${endpointYaml('partner', backend.port, clientTls(pki))}`
  const ops = createOps({ log: createLog({ level: 'info', destination: { write: (l: string) => void lines.push(l) } }), admin: false, watch: false })
  gw = await startTestGateway(dir, yamlOf(ALL), { ops })
  metrics = () => ops.metrics.registry.metrics()
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  await new Promise((resolve) => (echo ? echo.close(resolve) : resolve(undefined)))
  if (dir) rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

async function reloadTo(ways: readonly Way[]): Promise<void> {
  writeFileSync(join(dir, 'gateway.yaml'), yamlOf(ways))
  expect(await gw.ops?.reload('test')).toMatchObject({ ok: true })
}

/** One request head on a fresh connection to the listener, and its answer. */
async function ask(head: string): Promise<Answer> {
  const s = netConnect(gw.port, '127.0.0.1')
  await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject))
  return readAnswer(s, head)
}

const partner = (): string => `api.partner.test:${backend.port}`
const seen = (marker: string): boolean => backend.requests.some((r) => r.target.includes(marker))
const refusedAs = (a: Answer, way: Way): void => expectJsonError(a, 403, new RegExp(`is not served on this listener: add "${way}" to listen\\.waysIn to serve it$`))
const refusals = async (way: Way): Promise<number> => Number(new RegExp(`^mtls_gateway_way_in_refusals_total\\{way="${way}"\\} (\\d+)$`, 'm').exec(await metrics())?.[1])

describe('listen.waysIn', () => {
  it('[route, api]: absolute-form and CONNECT are 403 way_in_disabled, reach nothing, are counted; route mode and the API are served', async () => {
    await reloadTo(['route', 'api'])
    const [forwardBefore, connectBefore] = [await refusals('forward'), await refusals('connect')]
    // The front-proxy bypass: an absolute-form target whose path passes a `/proxy/partner/` rule.
    refusedAs(await ask(`GET http://${partner()}/proxy/partner/fwd-1 HTTP/1.1\r\nHost: ${partner()}\r\n\r\n`), 'forward')
    refusedAs(await ask(`POST https://${partner()}/fwd-2 HTTP/1.1\r\nHost: ${partner()}\r\nContent-Length: 3\r\n\r\nabc`), 'forward')
    refusedAs(await ask(`CONNECT ${partner()} HTTP/1.1\r\nHost: ${partner()}\r\n\r\n`), 'connect')
    // An unconfigured host too: refused for its way in, not looked up.
    refusedAs(await ask(`CONNECT nowhere.test:443 HTTP/1.1\r\nHost: nowhere.test:443\r\n\r\n`), 'connect')
    expect(seen('fwd-')).toBe(false)
    expect(await refusals('forward')).toBe(forwardBefore + 2)
    expect(await refusals('connect')).toBe(connectBefore + 2)
    // Anyone can cause them: their access lines are capped like other caller faults (burst 2 per hour here).
    expect(lines.filter((l) => l.includes('way_in_disabled')).length).toBe(2)
    expect((await ask(`GET /proxy/partner/route-1 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).status).toBe(200)
    expect(seen('/route-1')).toBe(true)
    expect((await ask(`GET /gateway/jwks.json HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).status).toBe(200)
    // Outside every way in: still the 404.
    expect((await ask(`GET /elsewhere HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`)).status).toBe(404)
  })

  it('[connect]: a tunnel and every request inside it are served (absolute-form naming the tunnel too); plain absolute-form, /proxy/ and /gateway/ are not', async () => {
    await reloadTo(['connect'])
    const tunnel = await openTunnel({ gatewayPort: gw.port, authority: partner(), ca })
    expect((await readAnswer(tunnel, `GET /in-1 HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`)).status).toBe(200)
    const again = await openTunnel({ gatewayPort: gw.port, authority: partner(), ca })
    expect((await readAnswer(again, `GET https://${partner()}/in-2 HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`)).status).toBe(200)
    expect(seen('/in-1') && seen('/in-2')).toBe(true)
    refusedAs(await ask(`GET http://${partner()}/out-1 HTTP/1.1\r\nHost: ${partner()}\r\n\r\n`), 'forward')
    refusedAs(await ask(`GET /proxy/partner/out-2 HTTP/1.1\r\nHost: gw.test\r\n\r\n`), 'route')
    refusedAs(await ask(`GET /gateway/jwks.json HTTP/1.1\r\nHost: gw.test\r\n\r\n`), 'api')
    expect(seen('out-')).toBe(false)
  })

  it('a reload that leaves out connect closes idle tunnels, answers a request partly received on one 403 with Connection: close, closes an open pass-through tunnel; adding it back serves a new tunnel', async () => {
    await reloadTo(['connect', 'route'])
    const idle = await openTunnel({ gatewayPort: gw.port, authority: partner(), ca })
    const idleClosed = new Promise((resolve) => idle.once('close', resolve))
    const busy = await openTunnel({ gatewayPort: gw.port, authority: partner(), ca })
    // A pass-through tunnel to the echo server, open and carrying bytes.
    const passThrough = netConnect(gw.port, '127.0.0.1')
    const passClosed = new Promise((resolve) => passThrough.once('close', resolve))
    let got = ''
    passThrough.on('data', (c: Buffer) => void (got += c.toString('latin1')))
    passThrough.on('error', () => undefined)
    passThrough.write(`CONNECT 127.0.0.1:${(echo.address() as AddressInfo).port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nping`)
    await eventually(() => got.endsWith('\r\n\r\nping'), 30_000, 'the pass-through tunnel echoing')
    expect(got.startsWith('HTTP/1.1 200')).toBe(true)
    // A request line received before the reload, its headers after.
    // Written before the reload starts: the gateway reads it while the reload reads and compiles the file.
    await new Promise<void>((resolve) => busy.write('GET /after-reload HTTP/1.1\r\n', () => resolve()))
    await reloadTo(['route'])
    // Judged at the reload as a new CONNECT would be: the idle tunnels close, as after a fresh start.
    await Promise.all([idleClosed, passClosed])
    const answer = await readAnswer(busy, `Host: ${partner()}\r\n\r\n`)
    refusedAs(answer, 'connect')
    expect(answer.head).toMatch(/\r\nconnection: close/)
    expect(seen('/after-reload')).toBe(false)
    await reloadTo(['connect', 'route'])
    const fresh = await openTunnel({ gatewayPort: gw.port, authority: partner(), ca })
    expect((await readAnswer(fresh, `GET /after-second-reload HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`)).status).toBe(200)
  })
})

/** A generated request: its form, method and where it is sent (a fresh connection, or inside a tunnel opened before the reload). */
interface Generated {
  form: 'absolute' | 'authority' | 'origin' | 'asterisk'
  method: string
  scheme: string
  authority: number
  path: string
  inTunnel: boolean
}

const generated: fc.Arbitrary<Generated> = fc.record({
  form: fc.constantFrom('absolute', 'authority', 'origin', 'asterisk'),
  method: fc.constantFrom('GET', 'POST', 'OPTIONS', 'HEAD', 'DELETE', 'CONNECT'),
  scheme: fc.constantFrom('http', 'https', 'HTTPS'),
  authority: fc.nat(4),
  path: fc.constantFrom('/proxy/partner/p', '/proxy/partner@t/p', '/proxy/', '/gateway/jwks.json', '/gateway/token', '/gateway/', '/p', '/', ''),
  inTunnel: fc.boolean(),
})

/** The way in a request on a fresh connection names, as the listener decides it; undefined: none (a 404 or a parse error). */
function wayOf(method: string, target: string): Way | undefined {
  if (method === 'CONNECT') return 'connect'
  if (/^https?:\/\//i.test(target)) return 'forward'
  if (target.startsWith('/proxy/')) return 'route'
  return target.startsWith('/gateway/') ? 'api' : undefined
}

const waysSet = fc.subarray([...ALL], { minLength: 1 })
let marks = 0

describe('listen.waysIn (seeded property)', () => {
  it('no request on a way in left out ever reaches the backend, whatever its target, method or the reload before it', async () => {
    const authorities = [partner(), `localhost:${backend.port}`, 'other.test', `127.0.0.1:${(echo.address() as AddressInfo).port}`, 'api.partner.test']
    await fc.assert(
      fc.asyncProperty(waysSet, waysSet, fc.array(generated, { minLength: 1, maxLength: 6 }), async (opened, after, requests) => {
        await reloadTo(opened)
        // Tunnels opened under `opened` (when it serves CONNECT), used after the reload to `after`.
        const tunnels = await Promise.all(requests.map((r) => (r.inTunnel && opened.includes('connect') ? openTunnel({ gatewayPort: gw.port, authority: partner(), ca }) : undefined)))
        const closed = tunnels.map((t) => t && new Promise((resolve) => (t.destroyed ? resolve(undefined) : t.once('close', resolve))))
        await reloadTo(after)
        // Without `connect` now, an idle tunnel is closed at the reload, as a fresh start would refuse its CONNECT: nothing more goes through it.
        if (!after.includes('connect')) await Promise.all(closed)
        for (const [i, r] of requests.entries()) {
          const mark = `mk${++marks}z`
          const authority = authorities[r.authority] as string
          const method = r.form === 'asterisk' ? 'OPTIONS' : r.method
          const target = { absolute: `${r.scheme}://${authority}${r.path}?${mark}`, authority, origin: `${r.path || '/'}?${mark}`, asterisk: '*' }[r.form]
          const tunnel = tunnels[i]
          if (tunnel && !after.includes('connect')) continue
          const inner = tunnel !== undefined
          // Inside a tunnel, a CONNECT (never served: the 405 it always is) and an authority-form target
          // of another method (Node's parser refuses it: HPE_INVALID_URL) are no request on a way in.
          const way = inner ? (method === 'CONNECT' || r.form === 'authority' ? undefined : 'connect') : wayOf(method, target)
          const before = backend.requests.length
          const head = `${method} ${target} HTTP/1.1\r\nHost: ${inner ? partner() : 'gw.test'}\r\nConnection: close\r\n${method === 'POST' ? 'Content-Length: 2\r\n\r\nhi' : '\r\n'}`
          const answer = tunnel ? await readAnswer(tunnel, head) : await ask(head)
          tunnel?.destroy()
          if (way !== undefined && after.includes(way)) continue
          // On no way in, or on one left out: nothing reaches the backend.
          expect(backend.requests.length).toBe(before)
          if (way === undefined) continue
          if (method === 'HEAD') expect(answer.status).toBe(403)
          else refusedAs(answer, way)
          expect(seen(mark)).toBe(false)
        }
        for (const t of tunnels) t?.destroy()
      }),
      { seed: 20261205, numRuns: 60 },
    )
  }, 300_000)
})
