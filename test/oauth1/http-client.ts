/**
 * A bare node:http client for the interop tests: fetch refuses a body on GET, and RFC 5849
 * §3.5.2 body placement is legal on any method, so the tests need the lower-level API.
 */
import { request } from 'node:http'

/** A buffered response; `json` is the parsed body when it parses. */
export interface TestResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: Record<string, unknown>
}

/** Sends one request and buffers the answer. */
export function send(method: string, url: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    // Node sends neither Content-Length nor chunked framing for a GET body unless told to.
    const framing = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }
    const req = request(url, { method, headers: { ...framing, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: Record<string, unknown> = {}
        try {
          json = JSON.parse(text) as Record<string, unknown>
        } catch {
          // not JSON (HTML page, form-encoded token response): leave json empty
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
