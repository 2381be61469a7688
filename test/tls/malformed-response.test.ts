/**
 * The words for a response undici's parser refused (tls/malformed-response.ts), and the table's
 * reading of undici's Content-Length mismatch, which reaches classifyUpstreamError only before
 * any head (a body's failures are the relay's): a malformed head, never a short body.
 */
import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { classifyUpstreamError, describeMalformedResponse } from '../../src/tls/index.js'

/** undici's HTTPParserError as its parser makes it (the code may be missing: undici 7 never sets it). */
function parserError(reason: string, code?: string): Error {
  return Object.assign(new Error(`Response does not match the HTTP/1.1 protocol (${reason})`), { name: 'HTTPParserError', code })
}

describe('describeMalformedResponse', () => {
  it("names the code and the fault for llhttp's reasons, found along the cause chain", () => {
    expect(describeMalformedResponse(new Error('outer', { cause: parserError('Duplicate Content-Length', 'HPE_UNEXPECTED_CONTENT_LENGTH') }))).toEqual({ code: 'HPE_UNEXPECTED_CONTENT_LENGTH', text: 'two Content-Length fields' })
  })

  it("keeps llhttp's words for a reason it does not know, and says a chunk fault is one", () => {
    expect(describeMalformedResponse(parserError('Something new'))).toEqual({ code: 'HPE_UNKNOWN', text: 'Something new' })
    expect(describeMalformedResponse(parserError('Invalid character in chunk extensions name', 'HPE_STRICT'))?.text).toBe('the chunked body is malformed (Invalid character in chunk extensions name)')
  })

  it('is undefined for any other error', () => {
    expect(describeMalformedResponse(new errors.SocketError('other side closed'))).toBeUndefined()
  })
})

describe("classifyUpstreamError on undici's Content-Length mismatch (before any head)", () => {
  it('is a malformed head, not a body shorter or longer than its Content-Length', () => {
    const e = classifyUpstreamError(new errors.ResponseContentLengthMismatchError(), 'partner')
    expect(e.reason).toBe('upstream_response_malformed')
    expect(e.message).toBe('endpoint "partner": malformed HTTP response: a header line after its Content-Length is not valid HTTP/1.1')
  })
})
