/**
 * What was wrong with a response undici's parser (llhttp) refused, in an operator's words. undici
 * gives llhttp's reason in the message (`Response does not match the HTTP/1.1 protocol (Invalid
 * header value char)`) and the `HPE_` code (put back by gateway/undici-parser-errors.ts); every
 * reason llhttp can give for a response has its sentence here, any other reads as llhttp wrote it.
 */

const STATUS_LINE = 'the status line is not `HTTP/1.x NNN reason`'
const HEADER_NAME = 'a header line is not `name: value` (a space or a control character in a name, a line without a colon, or a folded continuation line: obs-fold, RFC 9112 section 5.2)'
const HEADER_VALUE = 'a header value holds a character HTTP forbids (NUL, DEL or another control character)'
const BARE_LINE_END = 'a header line ends in a bare CR or a bare LF instead of CRLF'
const CHUNKED = 'the chunked body is malformed'

/** llhttp's reasons (llhttp 9, as undici 7 builds it) → the sentence the caller reads. */
const REASONS: Readonly<Record<string, string>> = {
  'Expected HTTP/, RTSP/ or ICE/': `${STATUS_LINE}: it does not start with HTTP/ (the server did not answer HTTP/1)`,
  'Expected dot': `${STATUS_LINE}: a malformed HTTP version`,
  'Invalid HTTP version': `${STATUS_LINE}: an HTTP version other than 1.0 or 1.1`,
  'Invalid major version': `${STATUS_LINE}: an HTTP version other than 1.0 or 1.1`,
  'Invalid minor version': `${STATUS_LINE}: an HTTP version other than 1.0 or 1.1`,
  'Expected space after version': `${STATUS_LINE}: no space after the version`,
  'Invalid status code': `${STATUS_LINE}: the status code is not three digits`,
  'Invalid response status': `${STATUS_LINE}: the status code is not three digits`,
  'Missing expected CR after response line': `${STATUS_LINE}: it ends in a bare LF`,
  'Expected LF after CR': 'a line ends in a bare CR',
  'Expected CRLF': 'a line does not end in CRLF',
  'Unexpected space after start line': 'a header line starts with whitespace (obs-fold after the status line)',
  'Invalid header token': HEADER_NAME,
  'Invalid header field char': HEADER_NAME,
  'Invalid header value char': HEADER_VALUE,
  'Unexpected whitespace after header value': HEADER_NAME,
  'Missing expected CR after header value': BARE_LINE_END,
  'Missing expected LF after header value': BARE_LINE_END,
  'Expected LF after headers': 'the head does not end in CRLF CRLF',
  'Empty Content-Length': 'an empty Content-Length',
  'Invalid character in Content-Length': 'Content-Length is not one decimal number (a list such as `10, 10`, a sign or a space inside it)',
  'Duplicate Content-Length': 'two Content-Length fields',
  'Content-Length overflow': 'a Content-Length too large to be a length',
  "Content-Length can't be present with Transfer-Encoding": 'both Content-Length and Transfer-Encoding (RFC 9112 section 6.3: the framing is ambiguous)',
  "Transfer-Encoding can't be present with Content-Length": 'both Content-Length and Transfer-Encoding (RFC 9112 section 6.3: the framing is ambiguous)',
  'Invalid `Transfer-Encoding` header value': 'an invalid Transfer-Encoding',
  'Invalid character in chunk size': `${CHUNKED}: a chunk size that is not hexadecimal`,
  'Chunk size overflow': `${CHUNKED}: a chunk size too large`,
  'Missing expected CR after chunk size': `${CHUNKED}: a chunk size line ends in a bare LF`,
  'Expected LF after chunk size': `${CHUNKED}: a chunk size line ends in a bare CR`,
  'Missing expected CR after chunk data': `${CHUNKED}: a chunk is longer than its size, or ends in a bare LF`,
  'Expected LF after chunk data': `${CHUNKED}: a chunk ends in a bare CR`,
  'Data after `Connection: close`': 'bytes after a complete response that said Connection: close',
  'Invalid EOF state': 'the connection closed in the middle of the response',
}

const PARSER_MESSAGE = /^Response does not match the HTTP\/1\.1 protocol \((.+)\)$/

/**
 * `code` and what was wrong, for undici's HTTPParserError (`err` or along its causes); undefined
 * for any other error. A chunk-extension fault reads as llhttp words it (`chunk extension …`).
 */
export function describeMalformedResponse(err: unknown): { code: string; text: string } | undefined {
  let e: unknown = err
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const { name, code, message } = e as { name?: unknown; code?: unknown; message?: unknown }
    if (name === 'HTTPParserError') {
      const reason = typeof message === 'string' ? PARSER_MESSAGE.exec(message)?.[1] : undefined
      const known = reason === undefined ? undefined : REASONS[reason]
      const text = known ?? (reason?.toLowerCase().includes('chunk') ? `${CHUNKED} (${reason})` : reason ?? 'invalid message framing')
      return { code: typeof code === 'string' ? code : 'HPE_UNKNOWN', text }
    }
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}
