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
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFramingRecorder, type FramingRecorder } from '../support/framing-recorder.js'
import { ENTRIES, startFramingRig, type Entry, type FramingRig } from '../support/framing-rig.js'
import { FRAMINGS, ONE_WAY, type Builder } from '../support/hostile-framings.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let backend: FramingRecorder
let rig: FramingRig

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startFramingRecorder(pki)
  rig = await startFramingRig(pki, backend.port)
})

afterAll(async () => {
  await rig?.close()
  await backend?.close()
  pki?.cleanup()
})

const request = (entry: Entry, method: string, path: string, extra = ''): string => {
  const a = rig.addressed(entry, path)
  return `${method} ${a.target} HTTP/1.1\r\nHost: ${a.host}\r\n${extra}\r\n`
}

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

async function check(c: Case): Promise<void> {
  const id = ++nextId
  const hiddenRequest = c.hidden ? request(c.entry, 'GET', `/s/${id}`) : ''
  const body = `${c.prefix}${hiddenRequest}${c.suffix}`
  const f = (FRAMINGS[c.framing] as Builder)(body, c.cuts)
  const a = rig.addressed(c.entry, `/c/${id}`)
  const eol = f.bareLf ? '\n' : '\r\n'
  const head = [`POST ${a.target} HTTP/${f.version ?? '1.1'}`, `Host: ${a.host}`, ...f.lines, ...c.extra].join(eol) + eol + eol
  const next = request(c.entry, 'GET', `/p/${id}`, 'Connection: close\r\n')
  const before = backend.requests.length
  const answers = await rig.exchange(c.entry, head + f.wire + next)
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
