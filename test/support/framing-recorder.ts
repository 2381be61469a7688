/**
 * A raw mTLS backend that records every request it reads off the wire with a strict HTTP/1.1
 * framing reader of its own (not Node's): method, target, body, and what about its framing a
 * lenient or strict backend could read otherwise (both Content-Length and Transfer-Encoding,
 * two Content-Lengths, a coding other than `chunked`, a length that is not plain digits, a
 * chunk line that is not plain hex). Each request gets `200 ok` on a kept-alive connection.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer, type TLSSocket } from 'node:tls'
import type { TestPki } from './pki.js'

export interface RecordedRequest {
  method: string
  target: string
  body: string
  /** The header section's field lines as they came off the wire (no request line, no CRLF), as bytes. */
  fieldLines: Buffer[]
  /** How the framing could be read two ways; empty when it can be read one way only. */
  ambiguities: string[]
}

export interface FramingRecorder {
  port: number
  readonly requests: RecordedRequest[]
  close(): Promise<void>
}

/** `head` cut at each CRLF, bytes kept. */
function splitLines(head: Buffer): Buffer[] {
  const lines: Buffer[] = []
  let from = 0
  for (let eol = head.indexOf('\r\n'); eol >= 0; eol = head.indexOf('\r\n', from)) {
    lines.push(head.subarray(from, eol))
    from = eol + 2
  }
  lines.push(head.subarray(from))
  return lines
}

/** One request off the front of `buf`: undefined while incomplete; `rest` is what follows it. */
function readRequest(buf: Buffer): { request: RecordedRequest; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [line = '', ...fields] = buf.subarray(0, end).toString('latin1').split('\r\n')
  const [method = '', target = ''] = line.split(' ')
  const ambiguities: string[] = []
  const fieldLines = splitLines(Buffer.from(buf.subarray(0, end))).slice(1)
  const named = (n: string): string[] => fields.filter((f) => f.slice(0, f.indexOf(':')).toLowerCase() === n).map((f) => f.slice(f.indexOf(':') + 1).trim())
  for (const f of fields) if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t -~\x80-\xff]*$/.test(f)) ambiguities.push(`field line ${JSON.stringify(f)}`)
  // A name some backend maps onto a framing field (CGI's "_" for "-", case, spaces).
  for (const f of fields) if (/^(content[^a-z]*length|transfer[^a-z]*encoding)$/i.test(f.slice(0, f.indexOf(':'))) && !/^(content-length|transfer-encoding)$/i.test(f.slice(0, f.indexOf(':')))) ambiguities.push(`framing-like name in ${JSON.stringify(f)}`)
  const lengths = named('content-length')
  const codings = named('transfer-encoding')
  if (lengths.length > 1) ambiguities.push(`${lengths.length} Content-Length fields`)
  if (lengths.length > 0 && codings.length > 0) ambiguities.push('Content-Length beside Transfer-Encoding')
  if (codings.length > 1 || (codings.length === 1 && codings[0] !== 'chunked')) ambiguities.push(`Transfer-Encoding ${JSON.stringify(codings)}`)
  if (lengths.some((l) => !/^(0|[1-9][0-9]*)$/.test(l))) ambiguities.push(`Content-Length ${JSON.stringify(lengths)}`)
  let at = end + 4
  let body: Buffer = Buffer.alloc(0)
  if (codings.length > 0) {
    const parts: Buffer[] = []
    for (;;) {
      const eol = buf.indexOf('\r\n', at)
      if (eol < 0) return undefined
      const size = buf.subarray(at, eol).toString('latin1')
      if (!/^[0-9a-f]{1,8}$/i.test(size)) ambiguities.push(`chunk line ${JSON.stringify(size)}`)
      const n = parseInt(size, 16)
      if (Number.isNaN(n)) return { request: { method, target, body: '', fieldLines, ambiguities }, rest: Buffer.alloc(0) }
      if (n === 0) {
        const close = buf.indexOf('\r\n\r\n', eol)
        if (close < 0) return undefined
        if (close !== eol) ambiguities.push('trailer fields')
        at = close + 4
        break
      }
      if (buf.length < eol + 2 + n + 2) return undefined
      parts.push(buf.subarray(eol + 2, eol + 2 + n))
      if (buf.subarray(eol + 2 + n, eol + 4 + n).toString('latin1') !== '\r\n') ambiguities.push('chunk data not followed by CRLF')
      at = eol + 4 + n
    }
    body = Buffer.concat(parts)
  } else if (lengths.length > 0) {
    const n = Number(lengths[0])
    if (buf.length < at + n) return undefined
    body = buf.subarray(at, at + n)
    at += n
  }
  return { request: { method, target, body: body.toString('latin1'), fieldLines, ambiguities }, rest: buf.subarray(at) }
}

/** Starts on 127.0.0.1:0, requiring a client certificate under `pki`'s root. */
export async function startFramingRecorder(pki: TestPki): Promise<FramingRecorder> {
  const requests: RecordedRequest[] = []
  const sockets = new Set<TLSSocket>()
  const server = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true }, (s: TLSSocket) => {
    let buf: Buffer = Buffer.alloc(0)
    sockets.add(s)
    s.on('error', () => undefined)
    s.on('close', () => sockets.delete(s))
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      for (let r = readRequest(buf); r !== undefined; r = readRequest(buf)) {
        requests.push(r.request)
        buf = r.rest
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
