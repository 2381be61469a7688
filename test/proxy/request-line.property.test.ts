/**
 * The request line followed across the reads a head arrives in (request-line.ts readLine, as
 * request-progress.ts feeds it: the read the request began in with no state before it, each later
 * one with the state after the last, while the head is unfinished), against the truth of the bytes:
 * generated requests, pipelined behind bodiless ones and ones with arbitrary bodies, cut into reads
 * anywhere (TLS records, TCP segments, a head written in pieces).
 * - Never `open` once the request's line has a line end: a header past the limit is never the 414.
 * - Where it begins inside a body's last line (in the same read), told that its line goes on
 *   (`open`, or `pending` while its bytes are all a token's), unless that line starts as a line of a
 *   head would (a name and its colon, a space or tab, a CR).
 * - Where the request begins at a read's start or right after a line end (always, behind bodiless
 *   requests), exactly right: `open` while no line end came (`pending` while its bytes are a method
 *   not yet followed by its space); after one, `ended` (`pending` while a header's name is cut short
 *   at the read's end: its colon comes next). An over-long request line is the 414.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readLine, type LineState } from '../../src/proxy/request-line.js'

const LF = 0x0a
const isTchar = (b: number): boolean => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(String.fromCharCode(b))

const method = fc.stringMatching(/^[A-Z][A-Z-]{0,7}$/)
const target = fc.stringMatching(/^\/[!-~]{0,60}$/)
const header = fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), fc.stringMatching(/^[ -~]{0,30}$/)).map(([n, v]) => `${n}: ${v.trim()}\r\n`)
const head = fc.tuple(method, target, fc.array(header, { maxLength: 4 })).map(([m, t, hs]) => `${m} ${t} HTTP/1.1\r\n${hs.join('')}\r\n`)
/** A request before the one followed: bodiless, or with a body of any bytes (its Content-Length says how many). */
const earlier = fc.oneof(
  head.map((h) => Buffer.from(h, 'latin1')),
  fc.uint8Array({ maxLength: 40 }).map((body) => Buffer.concat([Buffer.from(`POST /b HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body])),
)

/**
 * The state after each read that ends inside the followed request's head, with the truth about its
 * bytes so far; `lead`: what precedes the request in the read it began in, after that read's last
 * line end before it (the end of a body with no line end of its own; empty where `clean`).
 */
function follow(stream: Buffer, start: number, headEnd: number, cuts: number[]): { state: LineState; bytes: Buffer; clean: boolean; lead: Buffer }[] {
  const bounds = [...new Set([0, ...cuts.map((c) => 1 + (c % (stream.length - 1))), stream.length])].sort((a, b) => a - b)
  const out: { state: LineState; bytes: Buffer; clean: boolean; lead: Buffer }[] = []
  let state: LineState | undefined
  let clean = false
  let lead: Buffer = Buffer.alloc(0)
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [from, to] = [bounds[i] as number, bounds[i + 1] as number]
    if (to <= start || from >= headEnd) continue
    // The read it began in starts with no state; what precedes it there is the end of the requests before.
    if (from <= start) {
      ;[state, clean] = [undefined, from === start || stream[start - 1] === LF]
      lead = stream.subarray(Math.max(from, stream.lastIndexOf(LF, start - 1) + 1), start)
    }
    state = readLine(state, stream.subarray(from, to))
    if (to < headEnd) out.push({ state, bytes: stream.subarray(start, to), clean, lead })
  }
  return out
}

/** A body's last line that starts as a line of a head would (a name and its colon, a space or tab, a CR): what follows it cannot be told from a header (the 431 stays). */
const startsAsHeadLine = (lead: Buffer): boolean => /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:|[ \t\r])/.test(lead.toString('latin1'))

describe('the request line followed across reads (readLine)', () => {
  it('is never open after a line end, and is exact where the request starts a read or a line (seeded property)', () => {
    fc.assert(
      fc.property(fc.array(earlier, { maxLength: 3 }), head, fc.array(fc.nat(), { maxLength: 12 }), (before, followed, cuts) => {
        const start = before.reduce((n, b) => n + b.length, 0)
        const stream = Buffer.concat([...before, Buffer.from(followed, 'latin1')])
        for (const { state, bytes, clean, lead } of follow(stream, start, stream.length, cuts)) {
          const lineGoesOn = !bytes.includes(LF)
          if (state === 'open') expect(lineGoesOn).toBe(true)
          // Begun inside a body's last line (any bytes): its line goes on, told so unless that line starts as a line of a head.
          if (!clean && lineGoesOn && !startsAsHeadLine(lead)) expect(['open', 'pending']).toContain(state)
          if (!clean) continue
          if (lineGoesOn) expect(state).toBe(bytes.every(isTchar) ? 'pending' : 'open')
          // Ended; or a header's name cut short, told at its colon in a later read.
          const tail = bytes.subarray(bytes.lastIndexOf(LF) + 1)
          if (!lineGoesOn && state !== 'ended') expect([state, tail.length > 0 && tail.every(isTchar)]).toEqual(['pending', true])
        }
      }),
      { seed: 0x414, numRuns: 2_000 },
    )
  })

  it('an over-long request line in 16 KiB reads behind a pipelined request: open to its end (the 414)', () => {
    const stream = Buffer.from(`GET /a HTTP/1.1\r\nHost: gw\r\n\r\nGET /${'a'.repeat(40_000)} HTTP/1.1\r\nHost: gw\r\n\r\n`, 'latin1')
    const start = stream.indexOf('GET /aa')
    const lineEnd = stream.indexOf(' HTTP/1.1', start)
    const states = follow(stream, start, lineEnd, [16_384, 32_768]).map((s) => s.state)
    expect(states).toEqual(['open', 'open'])
    // The read it overflows in, up to where its parser stopped (the space after the target).
    expect(readLine('open', stream.subarray(32_768, lineEnd))).toBe('open')
  })
})
