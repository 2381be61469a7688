/**
 * request-progress.ts keeps what it knows of a connection in one object per connection: a
 * kept-alive connection's next request makes no map entry and removes none (a WeakMap set and
 * delete per request cost a hash-table insert and removal, and an ephemeron entry for the
 * collector; docs/performance.md, session 51). What the guard reads stays as it was: a request
 * begun is in progress until handed over, handed over it is answering until answered.
 *
 * The connection's parser is stood in for by an object with Node's callback slots, driven in the
 * order Node's parser and server call them for one request whose head arrives in one read.
 */
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { hasRequestInProgress, isAnswering, requestAnswered, requestStarted, watchRequests } from '../../src/proxy/request-progress.js'
import type { IncomingMessage } from 'node:http'

const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: { kOnMessageBegin: number; kOnExecute: number } }

interface FakeParser {
  socket: object
  getCurrentBuffer(): Buffer
  [slot: number]: unknown
}

function connection(): { socket: { parser: FakeParser | null }; parser: FakeParser; oneRequest(): { beganInProgress: boolean; handedAnswering: boolean; answeredInProgress: boolean } } {
  const socket: { parser: FakeParser | null } = { parser: null }
  const parser: FakeParser = { socket, getCurrentBuffer: () => Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n') }
  parser[HTTPParser.kOnMessageBegin] = null
  parser[HTTPParser.kOnExecute] = (ret: unknown) => ret
  socket.parser = parser
  watchRequests(socket)
  const req = { complete: true } as IncomingMessage
  return {
    socket,
    parser,
    oneRequest() {
      ;(parser[HTTPParser.kOnMessageBegin] as (this: FakeParser) => void).call(parser)
      const beganInProgress = hasRequestInProgress(socket, 0)
      requestStarted(socket)
      const handedAnswering = isAnswering(socket)
      ;(parser[HTTPParser.kOnExecute] as (this: FakeParser, ret: unknown) => unknown).call(parser, 28)
      requestAnswered(socket, req)
      return { beganInProgress, handedAnswering, answeredInProgress: hasRequestInProgress(socket, 0) }
    },
  }
}

afterEach(() => vi.restoreAllMocks())

describe("a kept-alive connection's requests", () => {
  it('make and remove no map entry after the first, and read as before', () => {
    const c = connection()
    expect(c.oneRequest()).toEqual({ beganInProgress: true, handedAnswering: true, answeredInProgress: false })
    const sets = vi.spyOn(WeakMap.prototype, 'set')
    const deletes = vi.spyOn(WeakMap.prototype, 'delete')
    const read = [c.oneRequest(), c.oneRequest(), c.oneRequest()]
    const entries = [...sets.mock.calls, ...deletes.mock.calls].filter(([key]) => key === c.socket).length // the spies' own bookkeeping aside
    vi.restoreAllMocks() // expect() itself uses WeakMaps
    expect(entries).toBe(0)
    for (const r of read) expect(r).toEqual({ beganInProgress: true, handedAnswering: true, answeredInProgress: false })
  })

  it('a begun request past the headers limit is not in progress; one never handed over counts nothing', () => {
    const c = connection()
    ;(c.parser[HTTPParser.kOnMessageBegin] as (this: FakeParser) => void).call(c.parser)
    expect(hasRequestInProgress(c.socket, 1, performance.now() - 1)).toBe(false) // a drain's deadline passed
    expect(hasRequestInProgress(c.socket, 60_000)).toBe(true)
    expect(isAnswering(c.socket)).toBe(false)
  })
})
