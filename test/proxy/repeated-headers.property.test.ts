/**
 * A header that names the user, the tenant, a credential or the host is read once or not at all
 * (src/callers/header-text.ts singleHeader). Node joins two X-Gateway-User lines into "a, b" (a
 * user nobody named) and keeps only the first of two Authorization, Proxy-Authorization or Host
 * lines (which another hop may read as the last): sent twice, any of them is a 400 header_repeated
 * naming it, and the backend sees nothing. Checked through the real gateway and a real mTLS
 * backend, with raw bytes on the wire, in route mode, forward (absolute-form) mode and inside an
 * intercepted CONNECT tunnel; whatever is sent once travels as before.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki } from '../support/pki.js'
import { parseRawResponse, rawClient, rawRoundTrip } from '../support/raw-client.js'
import { echo, startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { openTunnel } from '../support/tunnel.js'

let gw: RunningGateway
let backend: RunningServer
let dir: string
let ca: Buffer
let cleanup: (() => void) | undefined
/** Requests the backend received. */
const seen: EchoReply[] = []
/** Which outcomes each mode was checked with (the run must have seen both of each). */
const outcomes = new Set<string>()

beforeAll(async () => {
  const pki = await createTestPki()
  cleanup = () => pki.cleanup()
  dir = mkdtempSync(join(tmpdir(), 'repeated-headers-'))
  backend = await startMtlsServer({
    cert: pki.file('server-chain.crt'),
    key: pki.file('server.key'),
    ca: pki.file('root.crt'),
    handler: (req, res) => {
      const end = res.end.bind(res)
      res.end = ((body: string) => (seen.push(JSON.parse(body) as EchoReply), end(body))) as typeof res.end
      echo(req, res)
    },
  })
  const interception = await writeInterceptionCa(join(dir, 'ica'))
  ca = readFileSync(interception.caCert)
  const tls = clientTlsYaml(pki)
  const endpoint = (name: string, url: string): string => `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${tls}\n`
  const yaml =
    `admin: { enabled: false }\ninterception: { caCert: ${interception.caCert}, caKey: ${interception.caKey} }\nendpoints:\n` +
    endpoint('partner', `https://api.partner.test:${backend.port}`) +
    endpoint('tenanted', `https://localhost:${backend.port}/t/{tenant}`)
  gw = await startTestGateway(dir, yaml)
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  cleanup?.()
})

type Mode = 'route' | 'route_tenanted' | 'forward' | 'connect'
/** The headers the rule covers, as the error message names them. */
const LABELS = { host: 'Host', 'x-gateway-user': 'X-Gateway-User', 'x-gateway-tenant': 'X-Gateway-Tenant', authorization: 'Authorization', 'proxy-authorization': 'Proxy-Authorization' } as const
type Covered = keyof typeof LABELS

/** One request: its mode and header lines in order (names in the case sent). */
interface Case {
  mode: Mode
  lines: [string, string][]
}

const randomCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((ups) => [...name].map((c, i) => (ups[i] ? c.toUpperCase() : c)).join(''))

// Values a caller may send; a user id may hold ", " itself (sent once, it is that id).
const word = fc.stringMatching(/^[a-z0-9]{1,8}$/)
const VALUES: Record<Covered | 'x-note', fc.Arbitrary<string>> = {
  host: fc.constantFrom('gw', 'gw:8080', 'other.test'),
  'x-gateway-user': fc.oneof(word, fc.tuple(word, word).map(([a, b]) => `${a}, ${b}`)),
  'x-gateway-tenant': fc.constantFrom('acme', 'Beta', 'c-1'),
  authorization: word.map((w) => `Basic ${w}`),
  'proxy-authorization': word.map((w) => `Bearer ${w}`),
  'x-note': fc.oneof(word, fc.tuple(word, word).map(([a, b]) => `${a}, ${b}`)),
}

/** `min`..`max` lines named `name` (random case each), with values. */
const linesOf = (name: Covered | 'x-note', min: number, max: number): fc.Arbitrary<[string, string][]> =>
  fc.array(fc.tuple(randomCase(name), VALUES[name]), { minLength: min, maxLength: max })

const requestCase: fc.Arbitrary<Case> = fc
  .constantFrom<Mode>('route', 'route_tenanted', 'forward', 'connect')
  .chain((mode) =>
    fc
      .tuple(
        linesOf('host', 1, 2),
        // A tenanted endpoint without a tenant is another 400 (tenant_invalid).
        linesOf('x-gateway-tenant', mode === 'route_tenanted' ? 1 : 0, 2),
        linesOf('x-gateway-user', 0, 2),
        linesOf('authorization', 0, 2),
        linesOf('proxy-authorization', 0, 2),
        linesOf('x-note', 0, 2),
      )
      .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length }))
      .map((lines) => ({ mode, lines })),
  )

/** Writes `text` on a fresh connection (a tunnel's TLS session for CONNECT) and reads to its close. */
async function roundTrip(mode: Mode, text: string): Promise<Buffer> {
  const socket: Duplex =
    mode === 'connect'
      ? await openTunnel({ gatewayPort: gw.port, authority: `api.partner.test:${backend.port}`, ca })
      : (await rawClient(gw.port)).socket
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('error', reject)
    socket.once('close', () => resolve(Buffer.concat(chunks)))
    socket.write(text)
  })
}

function requestLine(mode: Mode): string {
  if (mode === 'route') return 'GET /proxy/partner/x HTTP/1.1'
  if (mode === 'route_tenanted') return 'GET /proxy/tenanted/x HTTP/1.1'
  if (mode === 'forward') return `GET http://api.partner.test:${backend.port}/x HTTP/1.1`
  return 'GET /x HTTP/1.1'
}

const countOf = (c: Case, name: string): number => c.lines.filter(([n]) => n.toLowerCase() === name).length
const valuesOf = (c: Case, name: string): string[] => c.lines.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v)

async function check(c: Case): Promise<void> {
  const before = seen.length
  // Inside a tunnel a Host names the tunnel's own authority, or the request is refused for that (tunnel-host.property.test.ts).
  const hostValue = (v: string): string => (c.mode === 'connect' ? `api.partner.test:${backend.port}` : v)
  const head = [requestLine(c.mode), ...c.lines.map(([n, v]) => `${n}: ${n.toLowerCase() === 'host' ? hostValue(v) : v}`), 'Connection: close'].join('\r\n')
  const answer = parseRawResponse(await roundTrip(c.mode, `${head}\r\n\r\n`))
  const repeated = (Object.keys(LABELS) as Covered[]).filter((n) => countOf(c, n) > 1)
  if (repeated.length > 0) {
    expect(answer.status).toBe(400)
    expect(Number(answer.headers['content-length'])).toBe(answer.body.length)
    const body = JSON.parse(answer.body.toString('utf8')) as { errors: { msg: string; code: number }[] }
    expect(body.errors).toHaveLength(1)
    expect(body.errors[0]?.code).toBe(400)
    const named = repeated.map((n) => LABELS[n])
    expect(named.some((label) => body.errors[0]?.msg.startsWith(`${label} appears more than once in the request`))).toBe(true)
    expect(seen.length).toBe(before)
    outcomes.add(`${c.mode} refused`)
    return
  }
  expect(answer.status, answer.body.toString()).toBe(200)
  expect(seen.length).toBe(before + 1)
  const got = seen[seen.length - 1] as EchoReply
  const tenant = valuesOf(c, 'x-gateway-tenant')[0]
  expect(got.url).toBe(c.mode === 'route_tenanted' ? `/t/${(tenant as string).toLowerCase()}/x` : '/x')
  // Gateway control headers never travel; the caller's own Authorization does, as sent.
  expect(got.headers['x-gateway-user']).toBeUndefined()
  expect(got.headers['x-gateway-tenant']).toBeUndefined()
  expect(got.headers.authorization).toBe(valuesOf(c, 'authorization')[0])
  // Headers outside the rule are as before: repeats joined by Node and forwarded.
  const notes = valuesOf(c, 'x-note')
  expect(got.headers['x-note']).toBe(notes.length === 0 ? undefined : notes.join(', '))
  outcomes.add(`${c.mode} forwarded`)
}

describe('a user, tenant, credential or host sent twice is refused, not guessed', () => {
  it('the example: two X-Gateway-User lines are a 400 naming the header, and the backend sees nothing', async () => {
    await check({ mode: 'route', lines: [['Host', 'gw'], ['X-Gateway-User', 'a'], ['x-gateway-user', 'b']] })
    await check({ mode: 'route', lines: [['Host', 'gw'], ['X-Gateway-User', 'a, b']] })
    await check({ mode: 'connect', lines: [['Host', 'gw'], ['Authorization', 'Basic a'], ['AUTHORIZATION', 'Basic b']] })
  })

  it('the CONNECT itself: two Proxy-Authorization or two Host lines are the 400, and no tunnel opens', async () => {
    const authority = `api.partner.test:${backend.port}`
    const answer = await rawRoundTrip(gw.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Bearer a\r\nproxy-authorization: Bearer b\r\n\r\n`)
    expect(answer.status).toBe(400)
    expect(Number(answer.headers['content-length'])).toBe(answer.body.length)
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ errors: [{ msg: 'Proxy-Authorization appears more than once in the request: the gateway does not guess which one counts; send it once', code: 400 }] })
    // Two Host lines too (RFC 9112 §3.2: any request), though a CONNECT goes where its target says.
    const hosts = await rawRoundTrip(gw.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nhost: other.test:443\r\n\r\n`)
    expect([hosts.status, JSON.parse(hosts.body.toString('utf8'))]).toEqual([400, { errors: [{ msg: 'Host appears more than once in the request: the gateway does not guess which one counts; send it once', code: 400 }] }])
    expect(Number(hosts.headers['content-length'])).toBe(hosts.body.length)
  })

  it('property: over generated header lists (any case, repeats, values), in route, forward and CONNECT modes (seeded)', async () => {
    await fc.assert(fc.asyncProperty(requestCase, check), { seed: 0x2626, numRuns: 120 })
    const modes: Mode[] = ['route', 'route_tenanted', 'forward', 'connect']
    expect([...outcomes].sort()).toEqual(modes.flatMap((m) => [`${m} forwarded`, `${m} refused`]).sort())
  }, 300_000)
})
