/**
 * The names a Connection header lists, through the real gateway (--workers 2, dist build, every
 * way in: route mode, forward proxy, inside an intercepted CONNECT tunnel; after a reload as after
 * the start). A caller's list is matched by the CGI key, as on answers: `Connection: x_secret`
 * keeps `X-Secret` from a real nginx backend that folds `_` to `-` (underscores_in_headers on, its
 * `$http_x_secret` reads both), and the reverse; the list is read by RFC 9110's #rule (empty
 * elements, spaces and tabs, any case; a quoted string names nothing, a comma splits even inside one); it never strips the body's
 * Content-Type or Content-Encoding (nor the gateway's X-Request-Id). A backend's Connection naming
 * `content-length`, `content_type`, `Content-Encoding` or `content-range` leaves them on the answer
 * (RFC 9110 §7.6.1: a sender must not list them; nginx and Envoy relay them), while a name it
 * lists in another spelling is stripped.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { startNginx, verifyingNginxServer, type Peer } from '../support/peers.js'
import { clientTls, createTestPki, verifyingFiles, type TestPki } from '../support/pki.js'
import type { GatewayProcess } from '../support/process.js'
import { startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { openTunnel } from '../support/tunnel.js'
import { readAnswer, type Answer } from '../support/ways-in.js'
import { reloadWorkers, spawnWorkers } from '../support/workers-rig.js'

type Way = 'route' | 'forward' | 'connect'
const WAYS: readonly Way[] = ['route', 'forward', 'connect']

let pki: TestPki
let nginx: Peer
let raw: ScriptedBackend
let dir: string
let config: string
let ca: Buffer
let ica: { caCert: string; caKey: string }
let gp: GatewayProcess

const BODY = gzipSync('{"ok":true}')
// What a backend's Connection lists: the representation headers (kept), and `x_listed` (its X-Listed goes).
const ANSWER = Buffer.concat([
  Buffer.from(`HTTP/1.1 206 Partial Content\r\nConnection: content-length, content_type,\t Content-Encoding , "x-kept", content-range, x_listed\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Range: bytes 0-${BODY.length - 1}/${BODY.length}\r\nContent-Length: ${BODY.length}\r\nX-Listed: evil\r\nX-Kept: kept\r\n\r\n`, 'latin1'),
  BODY,
])

const yaml = (response: string): string => {
  const timeouts = `    timeouts: { response: ${response} }\n`
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('up', nginx.port, clientTls(pki), timeouts)}${endpointYaml('raw', raw.port, clientTls(pki), timeouts)}`
}

beforeAll(async () => {
  pki = await createTestPki()
  nginx = await startNginx({ server: verifyingNginxServer(verifyingFiles(pki), 2, `    underscores_in_headers on;
    location / {
      default_type text/plain;
      return 200 "secret=[$http_x_secret] type=[$content_type] coding=[$http_content_encoding] id=[$http_x_request_id]";
    }`) })
  raw = await startScriptedBackend(pki, () => ANSWER)
  dir = mkdtempSync(join(tmpdir(), 'connection-list-workers-'))
  ica = await writeInterceptionCa(join(dir, 'ica'))
  ca = readFileSync(ica.caCert)
  ;({ config, gp } = await spawnWorkers(dir, yaml('10s')))
}, 120_000)

afterAll(async () => {
  await gp?.stop()
  await nginx?.stop()
  await raw?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes `head` for `path` of `endpoint` on a fresh connection of `way` and reads the answer. */
async function ask(way: Way, endpoint: 'up' | 'raw', path: string, fields: string): Promise<Answer> {
  const gatewayPort = Number(new URL(gp.url).port)
  const authority = `api.partner.test:${endpoint === 'up' ? nginx.port : raw.port}`
  let socket: Duplex
  if (way === 'connect') socket = await openTunnel({ gatewayPort, authority, ca })
  else {
    const s = connect(gatewayPort, '127.0.0.1')
    await new Promise<void>((resolve, reject) => s.once('connect', () => resolve()).once('error', reject))
    socket = s
  }
  const target = way === 'route' ? `/proxy/${endpoint}${path}` : way === 'forward' ? `http://${authority}${path}` : path
  return readAnswer(socket, `GET ${target} HTTP/1.1\r\nHost: ${way === 'route' ? 'gw.test' : authority}\r\n${fields}\r\n`)
}

const cgiKey = (n: string): string => n.toLowerCase().replace(/[^a-z0-9]/g, '_')
const ows = fc.constantFrom('', ' ', '\t', ' \t', '  ')
/** A name nginx folds like a CGI reader (`-` and `_` alike, any case). */
const folded = (name: string): fc.Arbitrary<string> =>
  fc.tuple(fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }), fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }))
    .map(([upper, under]) => [...name].map((c, i) => (c === '-' ? (under[i] ? '_' : '-') : upper[i] ? c.toUpperCase() : c)).join(''))
/** A list element and the name it lists (null: none): the secret, another name, a protected one, an empty element, a quoted string. */
const element = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(ows, folded('x-secret'), ows).map(([a, n, b]) => ({ text: `${a}${n}${b}`, names: n as string | null })) },
  fc.tuple(ows, fc.constantFrom('x-other', 'Keep-Alive', 'TE')).map(([a, n]) => ({ text: `${a}${n}`, names: n as string | null })),
  fc.tuple(ows, fc.constantFrom('content_type', 'Content-Type', 'content-encoding', 'CONTENT_ENCODING', 'x_request_id', 'X-Request-Id')).map(([a, n]) => ({ text: `${a}${n}`, names: n as string | null })),
  ows.map((a) => ({ text: a, names: null })),
  fc.tuple(folded('x-secret'), fc.constantFrom('', ' x', '\\"')).map(([n, rest]) => ({ text: ` "${n}${rest}"`, names: null })),
  // A comma splits inside quotes too: an option is a token, so quotes are malformed here (Go and Envoy split so).
  folded('x-secret').map((n) => ({ text: `"a, ${n}, b"`, names: n as string | null })),
)
const request = fc.record({ way: fc.constantFrom(...WAYS), secret: folded('x-secret'), list: fc.array(element, { minLength: 1, maxLength: 5 }), closeAt: fc.nat(5) })

/** Every generated caller list, on a fresh connection; both workers must have answered some. */
async function checkLists(seed: number): Promise<void> {
  const from = gp.output.length
  let n = 0
  await fc.assert(fc.asyncProperty(request, async (r) => {
    const id = ++n
    // `close` somewhere in the list: the gateway closes the caller's connection after the answer.
    const texts = r.list.map((e) => e.text)
    texts.splice(Math.min(r.closeAt, texts.length), 0, 'close')
    const listed = new Set(r.list.flatMap((e) => (e.names === null ? [] : [cgiKey(e.names)])))
    const stripped = listed.has(cgiKey(r.secret))
    const a = await ask(r.way, 'up', `/c/${id}`, `Connection: ${texts.join(',')}\r\n${r.secret}: s-${id}\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n`)
    const body = a.body.toString('latin1')
    expect([a.status, body.replace(/id=\[[^\]]+\]$/, 'id=[gateway]')], `${r.way} Connection: ${texts.join(',')} / ${r.secret}: ${body}`)
      .toEqual([200, `secret=[${stripped ? '' : `s-${id}`}] type=[text/plain] coding=[gzip] id=[gateway]`])
  }), { seed, numRuns: 45 })
  const pids = await eventually(() => {
    const lines = gp.logEntries(from).filter((e) => e.msg === 'request' && e.status === 200)
    return lines.length >= 45 && new Set(lines.map((e) => e.pid))
  }, 30_000, 'the access lines of the generated requests')
  expect(pids.size).toBe(2)
}

/** A backend's Connection naming the representation headers, on every way and a fresh connection each (so each worker). */
async function checkAnswers(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const way of WAYS) {
      const a = await ask(way, 'raw', '/r', 'Connection: close\r\n')
      const fields = (name: string): string[] => [...a.head.matchAll(new RegExp(`\\r\\n${name}: ([^\\r]*)`, 'g'))].map((m) => m[1] as string)
      expect([a.status, fields('content-length'), fields('content-type'), fields('content-encoding'), fields('content-range'), fields('x-listed'), fields('x-kept'), a.body.equals(BODY)], `${way}: ${a.head}`)
        .toEqual([206, [String(BODY.length)], ['application/json'], ['gzip'], [`bytes 0-${BODY.length - 1}/${BODY.length}`], [], ['kept'], true])
    }
  }
}

describe('the names a Connection header lists, with --workers 2', () => {
  it('property: a caller\'s list strips a header in any spelling a folding backend reads as a listed name, read by RFC 9110\'s #rule; never Content-Type or Content-Encoding (seeded)', async () => {
    await checkLists(0xc0)
  }, 300_000)

  it('a backend\'s list never strips Content-Length, Content-Type, Content-Encoding or Content-Range from its answer', async () => {
    await checkAnswers()
  }, 120_000)

  it('and the same after a reload', async () => {
    await reloadWorkers({ config, gp }, yaml('9s'))
    await checkLists(0xc1)
    await checkAnswers()
  }, 300_000)
})
