/** Raw callers of the buffered-body budget tests: a POST that waits for `100 Continue`, so a test knows when its body is held. */
import { parseRawResponse, rawClient, type RawClient, type RawResponse } from '../support/raw-client.js'
import { eventually } from '../support/eventually.js'

export const KiB = 1024

/** A JSON body of exactly `size` bytes (a payload field parses it). */
export function jsonBody(size: number): string {
  const open = '{"pad":"'
  const close = '"}'
  return open + 'x'.repeat(size - open.length - close.length) + close
}

/** One caller: its connection and the first answer the gateway gave it (100 when it asked for the body). */
export interface Held {
  c: RawClient
  first: number
}

/**
 * Sends the head of a POST with `Expect: 100-continue` and resolves with the first status
 * the gateway sends: 100 once it is reading the body (its bytes charged to the budget), else
 * its refusal. `length` undefined: chunked.
 */
export async function openPost(port: number, path: string, length: number | undefined): Promise<Held> {
  const c = await rawClient(port)
  const framing = length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`
  c.socket.write(`POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nConnection: close\r\nExpect: 100-continue\r\n${framing}\r\n\r\n`)
  await eventually(() => c.received().includes('\r\n\r\n'), 20_000, `an answer to the head of ${path}`)
  return { c, first: Number(/^HTTP\/1\.1 (\d{3})/.exec(c.received().toString('latin1'))?.[1]) }
}

/** One chunk of a chunked body. */
export const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`

/** The final answer on a connection the gateway closes (after any 100 Continue). */
export async function finalAnswer(c: RawClient): Promise<RawResponse> {
  await c.closed(20_000)
  return parseRawResponse(c.received())
}
