/**
 * Response smuggling through the gateway: a hostile backend's framing (Content-Length beside
 * Transfer-Encoding, two lengths, `chunked` not last, folded or misspelt codings, odd chunk
 * lines, a response hidden after the body on a kept-alive connection, a body read to the
 * close, a body cut short (by its framing's end not coming, or a reset of one read to the close), a framing header in another spelling: `Transfer_Encoding`, `content.length`) is never relayed so that the caller, or a front proxy in front of the gateway (a real
 * nginx and a real HAProxy keeping their gateway connections alive across clients), reads
 * another response boundary than the gateway meant. Each client pipelines a hostile call and a
 * plain one on one connection: the first answer is a 502 or the body the backend meant, the
 * second (if any) is its own, and the hidden response reaches nobody, then or later (a body cut
 * short reaches the caller cut short, or as a 502, never completed); route mode
 * directly and through each front proxy, forward proxy (absolute-form), inside a CONNECT tunnel.
 * A chunked body's trailer fields and a `103 Early Hints` before the answer reach no caller either (the
 * body and the final answer do, whole). A framing header in another spelling (any token character for the `-`, any case) never reaches
 * the caller: one folding such characters to `-` (nginx with underscores_in_headers, CGI, WSGI and
 * PHP callers) would frame or type the body otherwise than the gateway did. Nor does any other
 * spelling of a header the gateway strips from answers (hop-by-hop, Proxy-*, Alt-Svc, a name the
 * backend's Connection lists) or writes or edits there (X-Request-Id, Via, Set-Cookie, the URI
 * headers): `Keep_Alive`, `Proxy_Authenticate`, `X.Request.Id`; a near miss (`keep-alive_`) is relayed.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENTRIES, startFramingRig, type Entry, type FramingRig } from '../support/framing-rig.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { parseRawResponse } from '../support/raw-client.js'
import { startScriptedBackend, writeThenReset, type ScriptedBackend } from '../support/scripted-backend.js'

let pki: TestPki
let backend: ScriptedBackend
let rig: FramingRig
/** What the backend writes for `/h/<id>`, and whether it then closes the connection (or resets it: an RST under the TLS). */
const scripts = new Map<string, { bytes: string; close: boolean | 'reset' }>()

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head, socket) => {
    const path = head.split(' ')[1] ?? '/'
    const [, kind, id] = path.split('/')
    if (kind === 'h') {
      const s = scripts.get(id ?? '')
      if (s === undefined) return 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'
      if (s.close === 'reset') return void writeThenReset(socket, s.bytes)
      if (s.close) return void socket.end(Buffer.from(s.bytes, 'latin1'))
      return Buffer.from(s.bytes, 'latin1')
    }
    const body = `ok-${id ?? ''}`
    return `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`
  })
  rig = await startFramingRig(pki, backend.port)
})

afterAll(async () => {
  await rig?.close()
  await backend?.close()
  pki?.cleanup()
})

/** A response hidden after a body: were it read as the answer to anyone's next request, "evil" would show. */
const HIDDEN = 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nevil-resp'

const chunked = (b: string, size: (n: number) => string = (n) => n.toString(16), last = '0\r\n\r\n'): string =>
  (b.length > 4 ? `${size(4)}\r\n${b.slice(0, 4)}\r\n${size(b.length - 4)}\r\n${b.slice(4)}\r\n` : `${size(b.length)}\r\n${b}\r\n`) + last

interface Script {
  bytes: string
  close?: boolean | 'reset'
}

/** Each hostile answer by name, for the meant body `b`; the head ends each with its blank line. */
const ANSWERS: Record<string, (b: string) => Script> = {
  length: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n\r\n${b}` }),
  chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b)}` }),
  length_and_chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b)}` }),
  chunked_and_length: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: ${chunked(b).length + HIDDEN.length}\r\n\r\n${chunked(b)}${HIDDEN}` }),
  two_lengths: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nContent-Length: ${b.length + HIDDEN.length}\r\n\r\n${b}${HIDDEN}` }),
  length_list: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}, ${b.length + 2}\r\n\r\n${b}xx` }),
  length_plus: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: +${b.length}\r\n\r\n${b}` }),
  chunked_then_identity: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n${chunked(b)}${HIDDEN}` }),
  identity_then_chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n${chunked(b)}${HIDDEN}` }),
  two_coding_lines: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${chunked(b)}${HIDDEN}` }),
  coding_folded: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n${b}${HIDDEN}` }),
  coding_vertical_tab: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nTransfer-Encoding: \x0bchunked\r\n\r\n${b}${HIDDEN}` }),
  coding_space_before_colon: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nTransfer-Encoding : chunked\r\n\r\n${b}${HIDDEN}` }),
  coding_underscore: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nTransfer_Encoding: chunked\r\n\r\n${b}` }),
  coding_dot: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\ntransfer.encoding: chunked\r\n\r\n${b}` }),
  length_underscore: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nContent_Length: ${b.length + HIDDEN.length}\r\n\r\n${b}` }),
  length_dot_chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ncontent.length: 2\r\nContent_Type: text/html\r\n\r\n${chunked(b)}` }),
  chunk_leading_zeros: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, (n) => `000${n.toString(16)}`)}` }),
  chunk_extensions: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, (n) => `${n.toString(16)};a="b"`)}` }),
  chunk_0x: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, (n) => `0x${n.toString(16)}`)}${HIDDEN}` }),
  chunk_overflow: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, (n) => `1${n.toString(16).padStart(16, '0')}`)}${HIDDEN}` }),
  chunk_bare_lf: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b).replace(/\r\n/g, '\n')}` }),
  chunk_ext_quoted_crlf: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, (n) => `${n.toString(16)};a="\r\n"`)}${HIDDEN}` }),
  // Trailer fields and 103 Early Hints are not relayed (docs/paths.md): "evil" must reach nobody.
  trailer: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b, undefined, `0\r\nX-T: evil-trailer\r\n\r\n`)}` }),
  early_hints: (b) => ({ bytes: `HTTP/1.1 103 Early Hints\r\nLink: </evil-hint.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n\r\n${b}` }),
  after_length: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n\r\n${b}${HIDDEN}` }),
  after_chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(b)}${HIDDEN}` }),
  after_bodiless_204: (b) => ({ bytes: `HTTP/1.1 204 No Content\r\n\r\n${b}${HIDDEN}` }),
  http10_keep_alive: (b) => ({ bytes: `HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: ${b.length}\r\n\r\n${b}${HIDDEN}` }),
  to_close: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n${b}`, close: true }),
  cut_length: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${b.length + 10}\r\n\r\n${b}`, close: true }),
  cut_chunked: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n`, close: true }),
  // Read to the close, which a reset breaks off: not the backend's end of the body (RFC 9112 §8).
  cut_to_close_reset: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${b}`, close: 'reset' }),
  cut_http10_reset: (b) => ({ bytes: `HTTP/1.0 200 OK\r\n\r\n${b}`, close: 'reset' }),
  cut_in_chunk: (b) => ({ bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(b.length + 10).toString(16)}\r\n${b}`, close: true }),
  bare_lf_head: (b) => ({ bytes: `HTTP/1.1 200 OK\nContent-Length: ${b.length}\n\n${b}` }),
}

interface Parsed {
  status: number
  body: string
  /** The connection closed before the body's framing ended it. */
  cut?: true
}

/** Reads responses off `text` strictly (Content-Length, chunked, or to the end); the first is bodiless when it answers a HEAD. */
function parseResponses(text: string, firstBodiless: boolean): { responses: Parsed[]; rest: string } {
  const responses: Parsed[] = []
  let at = 0
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at)
    if (end < 0) break
    const [line = '', ...fields] = text.slice(at, end).split('\r\n')
    const status = Number(line.slice(9, 12))
    const field = (n: string): string[] => fields.filter((f) => f.slice(0, f.indexOf(':')).toLowerCase() === n).map((f) => f.slice(f.indexOf(':') + 1).trim())
    const lengths = field('content-length')
    const codings = field('transfer-encoding')
    // A framing name in another spelling (`Transfer_Encoding`, `content.length`) is what a caller folding `_` and `.` to `-` would frame by.
    const shadows = fields.map((f) => f.slice(0, f.indexOf(':'))).filter((n) => /^(content|transfer)[^a-z0-9](length|encoding|type)$/i.test(n) && !/^(content-length|transfer-encoding|content-type)$/i.test(n))
    expect([lengths.length <= 1, lengths.length === 0 || codings.length === 0, codings.every((c) => c === 'chunked'), shadows], `framing of ${JSON.stringify(text.slice(at, end))}`).toEqual([true, true, true, []])
    let body = ''
    let next = end + 4
    if ((firstBodiless && responses.length === 0) || status === 204 || status === 304 || (status >= 100 && status < 200)) body = ''
    else if (codings.length === 1) {
      for (;;) {
        const eol = text.indexOf('\r\n', next)
        if (eol < 0) return { responses: [...responses, { status, body, cut: true }], rest: '' }
        const n = parseInt(text.slice(next, eol), 16)
        expect(text.slice(next, eol)).toMatch(/^[0-9a-f]+$/i)
        if (n === 0) {
          next = text.indexOf('\r\n\r\n', eol) + 4
          break
        }
        body += text.slice(eol + 2, eol + 2 + n)
        if (text.length < eol + 4 + n) return { responses: [...responses, { status, body, cut: true }], rest: '' }
        next = eol + 4 + n
      }
    } else if (lengths.length === 1) {
      body = text.slice(next, next + Number(lengths[0]))
      if (text.length < next + Number(lengths[0])) return { responses: [...responses, { status, body, cut: true }], rest: '' }
      next += Number(lengths[0])
    } else {
      body = text.slice(next)
      next = text.length
    }
    responses.push({ status, body })
    at = next
  }
  return { responses, rest: text.slice(at) }
}

let nextId = 0

/** What a framing name's other spelling says: chunked beside a length, a longer length, a type that runs scripts. */
const SPELLED_VALUES: Record<string, string> = { 'transfer-encoding': 'chunked', 'content-length': '99', 'content-type': 'text/html' }
/**
 * Every name an answer loses (hop-by-hop, RFC 9110 §7.6.1, with Proxy-* and Alt-Svc) or gets from the
 * gateway (X-Request-Id, Via, and the headers it edits: Set-Cookie, the URI headers), written out here
 * apart from the source's lists: only those with a "-" have other spellings than case, which the parser folds.
 */
const OWNED = [...Object.keys(SPELLED_VALUES), 'keep-alive', 'proxy-connection', 'http2-settings', 'x-request-id', 'set-cookie', 'content-location', 'alt-svc', 'proxy-authenticate', 'proxy-authentication-info', 'proxy-status', 'x-hop-listed']
/** `x-hop-listed` is hop-by-hop because the backend's Connection names it. */
const LISTED = 'x-hop-listed'
const cgiKey = (n: string): string => n.toLowerCase().replace(/[^a-z0-9]/g, '_')
const OWNED_KEYS = new Set(OWNED.map(cgiKey))
/** What a caller folding `_` and `.` to `-` reads as an owned or stripped name: never relayed. A near miss (`keep-alive_`, `vi_a`) is another name, relayed as sent. */
const isOwnedSpelling = (n: string): boolean => OWNED_KEYS.has(cgiKey(n)) || cgiKey(n).startsWith('proxy_')
/** An owned name with another token character (RFC 9110 §5.6.2) for each `-` and each letter in either case; or a near miss: `_` put in elsewhere. */
const spelling = fc.record({
  name: fc.constantFrom(...OWNED),
  separators: fc.array(fc.constantFrom(..."!#$%&'*+.^_`|~"), { minLength: 3, maxLength: 3 }),
  upper: fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }),
  nearMiss: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(25) }),
})
const spell = (sp: { name: string; separators: string[]; upper: boolean[]; nearMiss: number | null }): string => {
  let dashes = 0
  const name = sp.nearMiss === null ? sp.name : `${sp.name.slice(0, sp.nearMiss)}_${sp.name.slice(sp.nearMiss)}`
  return [...name].map((c, i) => (c === '-' && sp.nearMiss === null ? (sp.separators[dashes++] ?? '_') : sp.upper[i] ? c.toUpperCase() : c)).join('')
}
const outcomes = new Map<string, Set<string>>()

async function check(entry: Entry, answer: string, method: 'GET' | 'HEAD' = 'GET'): Promise<void> {
  const id = String(++nextId)
  const meant = `body-${id}`
  const script = (ANSWERS[answer] as (b: string) => Script)(meant)
  scripts.set(id, { bytes: script.bytes, close: script.close ?? false })
  const head = (path: string, extra = ''): string => {
    const a = rig.addressed(entry, path)
    return `${method === 'HEAD' && path.startsWith('/h/') ? 'HEAD' : 'GET'} ${a.target} HTTP/1.1\r\nHost: ${a.host}\r\n${extra}\r\n`
  }
  const text = await rig.exchange(entry, head(`/h/${id}`) + head(`/ok/${id}`, 'Connection: close\r\n'))
  const label = `${answer} via ${entry}: ${JSON.stringify(text)}`
  expect(text, label).not.toContain('evil')
  const { responses } = parseResponses(text, method === 'HEAD')
  const [first, second, ...more] = responses
  expect(more, label).toEqual([])
  expect(first, label).toBeDefined()
  // A body the backend cut short reaches the caller cut short too: its connection closes before the framing's end.
  if (first?.cut) expect([meant.startsWith(first.body), second], label).toEqual([true, undefined])
  else if (first?.status === 200 && method === 'GET') expect(first.body, label).toBe(meant)
  else if (method === 'GET') expect([200, 204, 502], label).toContain(first?.status)
  if (second !== undefined) expect([second.status, second.body], label).toEqual([200, `ok-${id}`])
  const key = `${answer} ${entry}`
  ;(outcomes.get(key) ?? outcomes.set(key, new Set()).get(key))?.add(`${first?.status ?? 'none'}${first?.cut ? ' cut' : ''}${second ? '+ok' : ''}`)
}

describe('response framing: the front proxy reads the boundary the gateway meant', () => {
  it('every hostile answer, in route mode directly and through nginx and HAProxy in front, as a forward proxy and inside a CONNECT tunnel', async () => {
    for (const entry of ENTRIES) for (const answer of Object.keys(ANSWERS)) await check(entry, answer)
    // The same on every way: the gateway's word is what the front proxy relays. The plain call after each is served.
    const relayed = ['length', 'chunked', 'coding_underscore', 'coding_dot', 'length_underscore', 'length_dot_chunked', 'chunk_leading_zeros', 'chunk_extensions', 'trailer', 'early_hints', 'after_length', 'after_chunked', 'http10_keep_alive', 'to_close']
    const expected = (answer: string): string => (relayed.includes(answer) ? '200+ok' : answer === 'after_bodiless_204' ? '204+ok' : '502+ok')
    for (const entry of ENTRIES) {
      for (const answer of Object.keys(ANSWERS)) {
        const seen = [...(outcomes.get(`${answer} ${entry}`) ?? [])]
        // A body cut short: cut short to the caller too, or a 502 when the gateway saw the cut before relaying the head.
        if (answer.startsWith('cut_')) expect([entry, answer, seen.every((o) => o === '200 cut' || o === '502+ok')]).toEqual([entry, answer, true])
        else expect([entry, answer, seen]).toEqual([entry, answer, [expected(answer)]])
      }
    }
  }, 600_000)

  it('property: hostile answers in any order, GET or HEAD, through any entry, one after another on shared connections (seeded)', async () => {
    const step = fc.record({ entry: fc.constantFrom(...ENTRIES), answer: fc.constantFrom(...Object.keys(ANSWERS)), method: fc.constantFrom<'GET' | 'HEAD'>('GET', 'HEAD') })
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 4 }), async (steps) => {
      for (const s of steps) await check(s.entry, s.answer, s.method)
    }), { seed: 0x3334, numRuns: 40 })
  }, 600_000)

  it('property: a hop-by-hop, gateway-set or framing header in another spelling never reaches the caller, on any way in; a near miss does; the answer is whole (seeded)', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ENTRIES), spelling, async (entry, sp) => {
      const id = String(++nextId)
      const spelled = spell(sp)
      const body = `body-${id}`
      const marker = `${SPELLED_VALUES[sp.name] ?? 'marker'}-${id}`
      const listed = sp.name === LISTED ? `Connection: ${LISTED}\r\n` : ''
      scripts.set(id, { bytes: `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\n${listed}${spelled}: ${marker}\r\n\r\n${body}`, close: false })
      const a = rig.addressed(entry, `/h/${id}`)
      const text = await rig.exchange(entry, `GET ${a.target} HTTP/1.1\r\nHost: ${a.host}\r\nConnection: close\r\n\r\n`)
      const res = parseRawResponse(Buffer.from(text, 'latin1'))
      const head = text.slice(0, text.indexOf('\r\n\r\n'))
      // A near miss spelled with "_" only is a name like any other: the gateway and both front proxies relay it.
      const relayed = !isOwnedSpelling(spelled)
      expect([res.status, head.includes(marker), relayed && sp.nearMiss === null, res.headers['content-type'], res.body.toString('latin1')], `${spelled} via ${entry}: ${JSON.stringify(text)}`).toEqual([200, relayed, false, 'application/json', body])
    }), { seed: 0x5e9a, numRuns: 120 })
  }, 300_000)
})
