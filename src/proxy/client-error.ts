/**
 * What the gateway answers a request Node's parser refused, or one whose head it must refuse
 * itself (answer-client-errors.ts answers Node's 'clientError' with it), and the head checks
 * every way in makes first.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { isIPv6 } from 'node:net'
import { nodeHttp } from '../process/index.js'
import { GatewayError } from '../errors.js'
import { singleHeader } from '../callers/index.js'
import { unreadTransferCoding } from './transfer-coding.js'
import { requestLineOpen } from './request-progress.js'

/**
 * Leaves to the handlers what Node answers bare (no error envelope, no Content-Length) before they see a
 * request: a missing Host (headRefusal) and an Expect other than 100-continue (expectationRefusal). And
 * Node meets `Expect: 100-continue` with `100 Continue` at once, inviting the body of a request about to
 * be refused: the handlers send it only once a request they admitted needs its body (continueSender).
 */
export function answerHeadsInHandlers(server: Server): void {
  ;(server as Server & { requireHostHeader: boolean }).requireHostHeader = false
  for (const event of ['checkContinue', 'checkExpectation']) server.on(event, (req: IncomingMessage, res: ServerResponse) => void server.emit('request', req, res))
}

/** The error to answer a refused request with, or undefined to just close (`socket`: the connection it came on). */
export function clientErrorOf(err: ParseError, configKey: string, headersMs: number, socket?: object): GatewayError | undefined {
  // node:https hands its TLS handshake failures on as 'clientError' too: no HTTP was parsed, so
  // there is no request to refuse and no HTTP answer a failed TLS session could carry. The
  // listeners' own 'tlsClientError' handlers report them.
  if (err.code?.startsWith('ERR_TLS_') || err.code?.startsWith('ERR_SSL_')) return undefined
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_INVALID_EOF_STATE': // the client closed in the middle of a request
      return undefined
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('request_timeout', `request headers did not arrive within ${headersMs / 1000} s (${configKey}.headers)`)
    case 'HPE_HEADER_OVERFLOW':
      return overflowOf(err, socket)
    case 'HPE_PAUSED_H2_UPGRADE': // PRI * HTTP/2.0: the connection preface of HTTP/2 with prior knowledge
      return unsupportedVersion('2.0')
    case 'HPE_INVALID_VERSION':
      return versionOfParseError(err)
    default:
      return new GatewayError('bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`)
  }
}

/** A parse error as Node reports it: llhttp's reason, and the chunk it was reading with how far it got. */
export type ParseError = NodeJS.ErrnoException & { reason?: unknown; rawPacket?: unknown; bytesParsed?: number }

/** What llhttp had read of the chunk it failed in, up to and including the byte it failed at (`extra` 1); empty when Node does not say. */
function readBytes(err: ParseError, extra = 0): Buffer {
  return Buffer.isBuffer(err.rawPacket) && err.bytesParsed !== undefined ? err.rawPacket.subarray(0, err.bytesParsed + extra) : Buffer.alloc(0)
}

const readText = (err: ParseError, extra = 0): string => readBytes(err, extra).toString('latin1')

/**
 * Node's parser overflows at maxHeaderSize bytes of head, request line included, and past 1,000 header
 * lines however short. A request line still without its line end when it overflowed is a
 * request-target longer than the gateway parses: RFC 9112 §3 has that answered 414, on every way in.
 * Node tells only the read it failed in (a TLS record holds 16 KiB at most; a line may come in pieces):
 * the reads before it were followed as they came (request-progress.ts requestLineOpen).
 */
function overflowOf(err: ParseError, socket: object | undefined): GatewayError {
  const kib = nodeHttp().maxHeaderSize / 1024
  if (requestLineOpen(socket, readBytes(err))) {
    return new GatewayError('uri_too_long', `the request-target is too long: the request line exceeds the ${kib} KiB limit of a request head; send a shorter URI (RFC 9112, section 3)`)
  }
  return new GatewayError('headers_too_large', `the request head (request line and headers) exceeds the ${kib} KiB limit or 1,000 header lines`)
}

/**
 * The 505 of a well-formed HTTP/DIGIT.DIGIT the parser does not read (llhttp's reason for it; it
 * stops right after the version, named when its digits are in the chunk being read). HTTP/1.1 or
 * 1.0 followed by a bare LF or a space is no fault of the version's: llhttp's own reason says what
 * is. Anything else wrong about the version (`HTTP/1.1x`, `HTTP/12.0`, `HTTP/2`) is malformed.
 */
function versionOfParseError(err: ParseError): GatewayError {
  if (err.reason === 'Invalid HTTP version') return unsupportedVersion(/ HTTP\/(\d\.\d)$/.exec(readText(err))?.[1])
  if (typeof err.reason === 'string' && / HTTP\/1\.[01](?:\n[\s\S]?|[^0-9A-Za-z.\r\n])$/.test(readText(err, 1))) {
    return new GatewayError('bad_request', `malformed HTTP request (HPE_INVALID_VERSION): ${err.reason}: the request line must end in CRLF right after its version (RFC 9112, section 3)`)
  }
  return new GatewayError('bad_request', 'malformed HTTP request (HPE_INVALID_VERSION): the version must be HTTP/1.1 or HTTP/1.0')
}

/**
 * RFC 9110 §15.6.6: 505 for a major version the gateway does not serve (0, 2, 3…), with Connection:
 * close. HTTP/1.2 to 1.9 are refused so too: RFC 9110 §2.5 would have them read as 1.1, but Node's
 * parser refuses them and reads them only with all of its lenient (request-smuggling) modes on.
 */
function unsupportedVersion(version: string | undefined): GatewayError {
  const minor = version?.startsWith('1.') ? ' (a later HTTP/1 minor version is not read here either)' : ''
  return new GatewayError('http_version_not_supported', `${version === undefined ? 'this HTTP version' : `HTTP/${version}`} is not supported${minor}: this gateway serves HTTP/1.1 and HTTP/1.0; send the request as HTTP/1.1 (RFC 9110, section 15.6.6)`, { headers: { connection: 'close' } })
}

/** A request line naming a version Node's parser reads but the gateway does not serve (HTTP/0.9, HTTP/2.0): the 505 to answer with. */
function versionRefusal(req: IncomingMessage): GatewayError | undefined {
  return req.httpVersionMajor === 1 ? undefined : unsupportedVersion(req.httpVersion)
}

/**
 * Host as RFC 9112 §3.2 has it, `uri-host [ ":" port ]` (RFC 3986): an IP literal in brackets (a zone
 * as `%25…`), or a reg-name that is not empty. The grammar allows an empty one, for a target URI
 * without an authority; every target this gateway serves (http, https, a CONNECT's host:port) has one,
 * and an http(s) URI with an empty host is invalid (RFC 9110 §4.2).
 */
const HOST_VALUE = /^(?:\[(?:[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9\-._~%]+)?|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/

/**
 * The 400 for a request RFC 9112 §3.2 says a server must refuse, on every way in (CONNECT included):
 * HTTP/1.1 without Host, two Host lines, or a Host that is empty or no `host[:port]`. An
 * HTTP/1.0 request may lack Host. The handlers refuse these themselves: Node's own refusal
 * (guardConnections turns it off) is a bare 400 without the error envelope, only for a missing Host,
 * and never for a CONNECT; and Node keeps the first of two Host lines where another hop may not.
 * A CONNECT is refused so before anything else, served or not (not the 405 of a CONNECT where none is
 * served), though it goes where its target says.
 */
function hostRefusal(req: IncomingMessage): GatewayError | undefined {
  let host: string | undefined
  try {
    host = singleHeader(req, 'host', 'Host')
  } catch (e) {
    // Two Host lines: singleHeader's 400 header_repeated (the connection stays open, as for any repeat).
    if (e instanceof GatewayError) return e
    throw e
  }
  // As Node's own refusal did: a request this malformed ends the connection too.
  const close = { headers: { connection: 'close' } }
  if (host !== undefined) {
    if (HOST_VALUE.test(host) || pythonTunnelHost(req, host)) return undefined
    const what = host === '' ? 'is empty: it must name the host the request is for' : 'is not a host[:port]'
    return new GatewayError('bad_request', `the Host header ${what} (RFC 9112, section 3.2)`, close)
  }
  // Only HTTP/1.1 and 1.0 get here (headRefusal answers other versions first); 1.0 may omit Host.
  if (req.httpVersionMinor === 0) return undefined
  const connect = req.method === 'CONNECT' ? ', a CONNECT too: send Host with its host:port' : ''
  return new GatewayError('bad_request', `an HTTP/${req.httpVersion} request must carry a Host header (RFC 9112, section 3.2)${connect}`, close)
}

/**
 * CPython 3.12+ (http.client, set_tunnel/_tunnel) writes a CONNECT to an IPv6 literal as
 * `CONNECT [2001:db8::1]:443` with `Host: 2001:db8::1:443`: the address unbracketed, the port
 * always there. Not a host[:port], but it names the target exactly, so such a CONNECT is served.
 * Only the target's own text without its brackets (hex case aside) passes: an unbracketed
 * address cannot say where it ends, so no other spelling is read as naming the same place.
 */
function pythonTunnelHost(req: IncomingMessage, host: string): boolean {
  if (req.method !== 'CONNECT') return false
  const target = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(req.url ?? '')
  return target !== null && isIPv6(target[1] as string) && host.toLowerCase() === `${target[1] as string}:${target[2] as string}`.toLowerCase()
}

/**
 * RFC 9112 §6.1: a transfer coding the server does not understand gets 501. Node's parser
 * de-chunks `gzip, chunked` and the gateway drops Transfer-Encoding as hop-by-hop, so the
 * gzip bytes would reach the backend as the body itself, in a coding nobody named.
 */
function codingRefusal(req: IncomingMessage): GatewayError | undefined {
  const te = req.headers['transfer-encoding']
  // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a 1.0 hop before
  // the gateway may have read its body otherwise, the next request's bytes included). nginx refuses it so.
  if (te !== undefined && req.httpVersionMinor === 0) return new GatewayError('bad_request', 'an HTTP/1.0 request may not carry Transfer-Encoding: its framing is faulty (RFC 9112, section 6.1); send it as HTTP/1.1, or with Content-Length', { headers: { connection: 'close' } })
  const unread = unreadTransferCoding(te)
  if (unread === undefined) return undefined
  const msg = `Transfer-Encoding "${unread}": the gateway reads only the chunked transfer coding, and would pass the others' bytes on as the body; send the body chunked or with Content-Length (compression goes in Content-Encoding) (RFC 9112, section 6.1)`
  return new GatewayError('transfer_coding_not_implemented', msg, { headers: { connection: 'close' } })
}

/** The first refusal on every way in, CONNECT included: an unsupported version (505), the Host rule (400), then a transfer coding other than chunked (501). */
export function headRefusal(req: IncomingMessage): GatewayError | undefined {
  return versionRefusal(req) ?? hostRefusal(req) ?? codingRefusal(req)
}

/** Throws headRefusal's error, if there is one: the first check of a CONNECT. */
export function checkRequestHead(req: IncomingMessage): void {
  const refusal = headRefusal(req)
  if (refusal) throw refusal
}
