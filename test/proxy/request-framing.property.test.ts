/**
 * Request smuggling, both ends of the gateway. Generated request heads with hostile framing
 * (Content-Length and Transfer-Encoding together, repeated, misspelt or folded; `chunked` not
 * last; chunk lines with leading zeros, extensions, `0x`, overflow, bare LF; bad last chunks,
 * trailers; HTTP/1.0 keep-alive; bare LF heads) each carry a request hidden in their body and
 * have a second request pipelined behind them, sent to the gateway directly (route mode,
 * forward-proxy absolute-form, inside an intercepted CONNECT tunnel) and through a real nginx
 * and a real HAProxy IN FRONT of it that share their kept-alive gateway connections. A raw
 * backend reads what arrives with a strict framing reader of its own. The promise: a caller
 * request is refused or reaches the backend once with exactly one of the bodies its bytes
 * can mean; a request hidden in a body never does; whatever reaches the backend is framed one
 * way only (one of Content-Length / chunked, nothing a backend could read as framing).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Duplex } from 'node:stream'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { startFramingRecorder, type FramingRecorder } from '../support/framing-recorder.js'
import { startFrontProxies, type FrontProxies } from '../support/front-proxies.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { openTunnel } from '../support/tunnel.js'

let pki: TestPki
let gw: RunningGateway
let backend: FramingRecorder
let fronts: FrontProxies | undefined
let dir: string
let ca: Buffer

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startFramingRecorder(pki)
  dir = mkdtempSync(join(tmpdir(), 'request-framing-'))
  const ica = await writeInterceptionCa(join(dir, 'ica'))
  ca = readFileSync(ica.caCert)
  gw = await startTestGateway(dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('up', backend.port, clientTls(pki))}`)
  fronts = await startFrontProxies(gw.url)
}, 60_000)

afterAll(async () => {
  await fronts?.stop()
  await gw?.close()
  await backend?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

type Entry = 'route' | 'forward' | 'connect' | 'nginx' | 'haproxy'
const ENTRIES: Entry[] = ['route', 'forward', 'connect', 'nginx', 'haproxy']

/** The request line's target and the Host for `path` (`/c/1`) on each way in. */
function addressed(entry: Entry, path: string): { target: string; host: string } {
  const authority = `api.partner.test:${backend.port}`
  if (entry === 'forward') return { target: `http://${authority}${path}`, host: authority }
  if (entry === 'connect') return { target: path, host: authority }
  return { target: `/proxy/up${path}`, host: 'gw.test' }
}

const request = (entry: Entry, method: string, path: string, extra = ''): string => {
  const a = addressed(entry, path)
  return `${method} ${a.target} HTTP/1.1\r\nHost: ${a.host}\r\n${extra}\r\n`
}

/** `body` as chunks split at `cuts`, each size line written by `size`. */
function chunked(body: string, cuts: number[], size: (n: number) => string = (n) => n.toString(16), last = '0\r\n\r\n'): string {
  const points = [...new Set(cuts.map((c) => c % Math.max(1, body.length)))].filter((c) => c > 0).sort((a, b) => a - b)
  let out = ''
  let from = 0
  for (const to of [...points, body.length]) {
    if (to > from) out += `${size(to - from)}\r\n${body.slice(from, to)}\r\n`
    from = to
  }
  return out + last
}

interface Framing {
  /** Framing field lines (no CRLF). */
  lines: string[]
  /** The body bytes as sent. */
  wire: string
  /** The bodies these bytes can mean to some parser (the caller's own among them); a forwarded request carries one of them. */
  readings: string[]
  version?: '1.0'
  /** Head lines end in a bare LF. */
  bareLf?: boolean
}

type Builder = (body: string, cuts: number[]) => Framing

const len = (s: string): number => Buffer.byteLength(s, 'latin1')

/** Each framing by name; the body is printable ASCII (and the hidden request's CRLFs). */
const FRAMINGS: Record<string, Builder> = {
  length: (b) => ({ lines: [`Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  chunked: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c), readings: [b] }),
  chunked_case: (b, c) => ({ lines: ['transfer-encoding: CHUNKED'], wire: chunked(b, c, (n) => n.toString(16).toUpperCase()), readings: [b] }),
  chunked_leading_zeros: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `000${n.toString(16)}`), readings: [b] }),
  chunked_extensions: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)};a=b;q="x y"`), readings: [b] }),
  chunked_trailer: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, undefined, '0\r\nX-Trailer: 1\r\n\r\n'), readings: [b] }),
  length_and_chunked: (b, c) => { const w = chunked(b, c); return { lines: [`Content-Length: ${len(w)}`, 'Transfer-Encoding: chunked'], wire: w, readings: [b, w] } },
  chunked_and_short_length: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked', 'Content-Length: 3'], wire: w, readings: [b, w.slice(0, 3)] } },
  two_lengths: (b) => ({ lines: [`Content-Length: ${len(b)}`, `Content-Length: ${Math.max(0, len(b) - 4)}`], wire: b, readings: [b, b.slice(0, Math.max(0, len(b) - 4))] }),
  two_equal_lengths: (b) => ({ lines: [`Content-Length: ${len(b)}`, `Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  length_list: (b) => ({ lines: [`Content-Length: ${len(b)}, ${len(b)}`], wire: b, readings: [b] }),
  length_plus: (b) => ({ lines: [`Content-Length: +${len(b)}`], wire: b, readings: [b] }),
  length_leading_zero: (b) => ({ lines: [`Content-Length: 0${len(b)}`], wire: b, readings: [b] }),
  length_hex: (b) => ({ lines: [`Content-Length: 0x${len(b).toString(16)}`], wire: b, readings: [b] }),
  length_negative: (b) => ({ lines: ['Content-Length: -1'], wire: b, readings: [b, ''] }),
  length_two_numbers: (b) => ({ lines: [`Content-Length: ${len(b)} 1`], wire: b, readings: [b] }),
  chunked_then_identity: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked, identity', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  identity_then_chunked: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: identity, chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  chunked_twice: (b, c) => ({ lines: ['Transfer-Encoding: chunked, chunked'], wire: chunked(b, c), readings: [b] }),
  two_coding_lines: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  xchunked: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: xchunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_vertical_tab: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: \x0bchunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_folded: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding:\r\n chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_space_before_colon: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding : chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_underscore: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer_Encoding: chunked', `Content-Length: ${len(w)}`], wire: w, readings: [w] } },
  length_underscore: (b, c) => ({ lines: ['Transfer-Encoding: chunked', 'Content_Length: 3'], wire: chunked(b, c), readings: [b] }),
  bare_lf_head: (b) => ({ lines: [`Content-Length: ${len(b)}`], wire: b, readings: [b], bareLf: true }),
  bare_cr_in_field: (b) => ({ lines: ['X-Note: a\rTransfer-Encoding: chunked', `Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  chunk_0x: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `0x${n.toString(16)}`), readings: [b] }),
  chunk_overflow: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `1${n.toString(16).padStart(16, '0')}`), readings: [b] }),
  chunk_size_space: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)} `), readings: [b] }),
  chunk_ext_quoted_crlf: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)};a="\r\nx"`), readings: [b] }),
  chunk_bare_lf: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c).replace(/\r\n/g, '\n'), readings: [b.replace(/\r\n/g, '\n')] }),
  chunk_short_size: (b) => ({ lines: ['Transfer-Encoding: chunked'], wire: `1\r\n${b}\r\n0\r\n\r\n`, readings: [b] }),
  last_chunk_unended: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, undefined, '0\r\n'), readings: [b] }),
  http10_keep_alive: (b) => ({ lines: ['Connection: keep-alive', `Content-Length: ${len(b)}`], wire: b, readings: [b], version: '1.0' }),
  http10_chunked: (b, c) => ({ lines: ['Connection: keep-alive', 'Transfer-Encoding: chunked'], wire: chunked(b, c), readings: [b], version: '1.0' }),
}

/** The framings any parser reads one way (in the order of FRAMINGS). */
const ONE_WAY = ['length', 'chunked', 'chunked_case', 'chunked_leading_zeros', 'chunked_extensions', 'chunked_trailer']

/**
 * Other fields a caller may add that touch framing or the connection: hop-by-hop names, a
 * Connection naming the framing fields, framing names in CGI spellings, a method override.
 */
const EXTRA_FIELDS = [
  'TE: trailers', 'Trailer: X-Sum', 'Connection: keep-alive, Transfer-Encoding', 'Connection: content-length', 'Keep-Alive: timeout=5',
  'Proxy-Connection: keep-alive', 'Content_Length: 0', 'transfer.encoding: chunked', 'CONTENT-length_: 1', 'X-HTTP-Method-Override: GET',
  'Upgrade: h2c', 'Expect: 100-continue', 'Content-Encoding: gzip', 'Content-Type: application/x-www-form-urlencoded',
]

interface Case {
  entry: Entry
  framing: string
  /** Fields added after the framing ones. */
  extra: string[]
  prefix: string
  hidden: boolean
  suffix: string
  cuts: number[]
}

let nextId = 0
/** Per framing and entry: what the run saw ("forwarded" or "refused"). */
const seen = new Map<string, Set<string>>()

/** Writes `bytes` on a fresh connection of `entry` and reads until it closes (or 8 s). */
async function exchange(entry: Entry, bytes: string): Promise<string> {
  const socket: Duplex =
    entry === 'connect'
      ? await openTunnel({ gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${backend.port}`, ca })
      : (await rawClient(entry === 'nginx' || entry === 'haproxy' ? (fronts?.[entry].port ?? 0) : Number(new URL(gw.url).port))).socket
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), 8000)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => undefined)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    socket.write(Buffer.from(bytes, 'latin1'))
  })
}

async function check(c: Case): Promise<void> {
  const id = ++nextId
  const hiddenRequest = c.hidden ? request(c.entry, 'GET', `/s/${id}`) : ''
  const body = `${c.prefix}${hiddenRequest}${c.suffix}`
  const f = (FRAMINGS[c.framing] as Builder)(body, c.cuts)
  const a = addressed(c.entry, `/c/${id}`)
  const eol = f.bareLf ? '\n' : '\r\n'
  const head = [`POST ${a.target} HTTP/${f.version ?? '1.1'}`, `Host: ${a.host}`, ...f.lines, ...c.extra].join(eol) + eol + eol
  const next = request(c.entry, 'GET', `/p/${id}`, 'Connection: close\r\n')
  const before = backend.requests.length
  const answers = await exchange(c.entry, head + f.wire + next)
  const mine = backend.requests.slice(before)
  // Every request the backend saw (for anyone) is framed one way only.
  for (const r of mine) expect(r.ambiguities, `${c.framing} via ${c.entry}: ${r.method} ${r.target}`).toEqual([])
  // A hidden request never reaches the backend, nor anything not sent as a request.
  const targets = mine.map((r) => r.target)
  for (const t of targets) expect(t, `${c.framing} via ${c.entry}`).toMatch(/^\/[cp]\/\d+$/)
  const posted = mine.filter((r) => r.target === `/c/${id}`)
  expect(posted.length, `${c.framing} via ${c.entry}`).toBeLessThanOrEqual(1)
  for (const r of posted) {
    expect(r.method).toBe('POST')
    expect(f.readings, `${c.framing} via ${c.entry}: ${JSON.stringify(r.body)}`).toContain(r.body)
  }
  expect(mine.filter((r) => r.target === `/p/${id}`).length).toBeLessThanOrEqual(1)
  const key = `${c.framing} ${c.entry}`
  const outcome = posted.length === 1 ? 'forwarded' : 'refused'
  ;(seen.get(key) ?? seen.set(key, new Set()).get(key))?.add(outcome)
  // Refused by the gateway itself: its JSON error, never a backend's answer.
  if (outcome === 'refused' && !FRONT.has(c.entry)) expect(answers.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''), `${c.framing} via ${c.entry}`).toMatch(/^HTTP\/1\.1 (400|501) [^\r]*\r\n[^]*content-type: application\/json/i)
}

const FRONT: ReadonlySet<Entry> = new Set(['nginx', 'haproxy'])

const text = fc.stringMatching(/^[ -~]{0,40}$/).filter((s) => !s.includes('\r'))
const caseOf = (entries: readonly Entry[]): fc.Arbitrary<Case> =>
  fc.record({
    entry: fc.constantFrom(...entries),
    framing: fc.constantFrom(...Object.keys(FRAMINGS)),
    extra: fc.subarray(EXTRA_FIELDS, { maxLength: 3 }),
    prefix: text,
    hidden: fc.boolean(),
    suffix: text,
    cuts: fc.array(fc.nat(200), { maxLength: 3 }),
  })

describe('request framing: one meaning at each end of the gateway', () => {
  it('every framing, every way in, once (with a hidden request): the gateway forwards only what reads one way', async () => {
    for (const entry of ENTRIES) for (const framing of Object.keys(FRAMINGS)) await check({ entry, framing, extra: [], prefix: 'a=1&', hidden: true, suffix: '&z=2', cuts: [3, 9] })
    const forwarded = (entry: Entry): string[] => Object.keys(FRAMINGS).filter((f) => seen.get(`${f} ${entry}`)?.has('forwarded'))
    // Node's parser (llhttp, strict) on each way in: everything else is a 400 before anything is sent.
    for (const entry of ['route', 'forward', 'connect'] as const) expect([entry, forwarded(entry)]).toEqual([entry, [...ONE_WAY, 'length_leading_zero', 'coding_underscore', 'length_underscore', 'http10_keep_alive']])
    // What nginx and HAProxy refuse is theirs to choose; the plain framings pass through both.
    for (const entry of ['nginx', 'haproxy'] as const) expect(forwarded(entry)).toEqual(expect.arrayContaining([...ONE_WAY]))
  }, 600_000)

  it('property: generated bodies and chunk splits under every framing and way in (seeded)', async () => {
    await fc.assert(fc.asyncProperty(caseOf(ENTRIES), check), { seed: 0x3333, numRuns: 150 })
  }, 600_000)
})
