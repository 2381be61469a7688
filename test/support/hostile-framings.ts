/**
 * Request bodies framed in hostile ways, by name, for the request-smuggling tests: each gives
 * the framing field lines, the body bytes as sent, and the bodies those bytes can mean to some
 * parser (the caller's own among them).
 */

/** `body` as chunks split at `cuts`, each size line written by `size`. */
export function chunked(body: string, cuts: number[], size: (n: number) => string = (n) => n.toString(16), last = '0\r\n\r\n'): string {
  const points = [...new Set(cuts.map((c) => c % Math.max(1, body.length)))].filter((c) => c > 0).sort((a, b) => a - b)
  let out = ''
  let from = 0
  for (const to of [...points, body.length]) {
    if (to > from) out += `${size(to - from)}\r\n${body.slice(from, to)}\r\n`
    from = to
  }
  return out + last
}

export interface Framing {
  /** Framing field lines (no CRLF). */
  lines: string[]
  /** The body bytes as sent. */
  wire: string
  /** The bodies these bytes can mean to some parser (the caller's own among them); a forwarded request carries one of them. */
  readings: string[]
  version?: '1.0'
  /** Head lines end in a bare LF. */
  bareLf?: boolean
}

export type Builder = (body: string, cuts: number[]) => Framing

const len = (s: string): number => Buffer.byteLength(s, 'latin1')

/** Each framing by name; the body is printable ASCII (and the hidden request's CRLFs). */
export const FRAMINGS: Record<string, Builder> = {
  length: (b) => ({ lines: [`Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  chunked: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c), readings: [b] }),
  chunked_case: (b, c) => ({ lines: ['transfer-encoding: CHUNKED'], wire: chunked(b, c, (n) => n.toString(16).toUpperCase()), readings: [b] }),
  chunked_leading_zeros: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `000${n.toString(16)}`), readings: [b] }),
  chunked_extensions: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)};a=b;q="x y"`), readings: [b] }),
  chunked_trailer: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, undefined, '0\r\nX-Trailer: 1\r\n\r\n'), readings: [b] }),
  length_and_chunked: (b, c) => { const w = chunked(b, c); return { lines: [`Content-Length: ${len(w)}`, 'Transfer-Encoding: chunked'], wire: w, readings: [b, w] } },
  chunked_and_short_length: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked', 'Content-Length: 3'], wire: w, readings: [b, w.slice(0, 3)] } },
  two_lengths: (b) => ({ lines: [`Content-Length: ${len(b)}`, `Content-Length: ${Math.max(0, len(b) - 4)}`], wire: b, readings: [b, b.slice(0, Math.max(0, len(b) - 4))] }),
  two_equal_lengths: (b) => ({ lines: [`Content-Length: ${len(b)}`, `Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  length_list: (b) => ({ lines: [`Content-Length: ${len(b)}, ${len(b)}`], wire: b, readings: [b] }),
  length_plus: (b) => ({ lines: [`Content-Length: +${len(b)}`], wire: b, readings: [b] }),
  length_leading_zero: (b) => ({ lines: [`Content-Length: 0${len(b)}`], wire: b, readings: [b] }),
  length_hex: (b) => ({ lines: [`Content-Length: 0x${len(b).toString(16)}`], wire: b, readings: [b] }),
  length_negative: (b) => ({ lines: ['Content-Length: -1'], wire: b, readings: [b, ''] }),
  length_two_numbers: (b) => ({ lines: [`Content-Length: ${len(b)} 1`], wire: b, readings: [b] }),
  chunked_then_identity: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked, identity', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  identity_then_chunked: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: identity, chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  chunked_twice: (b, c) => ({ lines: ['Transfer-Encoding: chunked, chunked'], wire: chunked(b, c), readings: [b] }),
  two_coding_lines: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  xchunked: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: xchunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_vertical_tab: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding: \x0bchunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_folded: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding:\r\n chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_space_before_colon: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer-Encoding : chunked', `Content-Length: ${len(w)}`], wire: w, readings: [b, w] } },
  coding_underscore: (b, c) => { const w = chunked(b, c); return { lines: ['Transfer_Encoding: chunked', `Content-Length: ${len(w)}`], wire: w, readings: [w] } },
  length_underscore: (b, c) => ({ lines: ['Transfer-Encoding: chunked', 'Content_Length: 3'], wire: chunked(b, c), readings: [b] }),
  bare_lf_head: (b) => ({ lines: [`Content-Length: ${len(b)}`], wire: b, readings: [b], bareLf: true }),
  bare_cr_in_field: (b) => ({ lines: ['X-Note: a\rTransfer-Encoding: chunked', `Content-Length: ${len(b)}`], wire: b, readings: [b] }),
  chunk_0x: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `0x${n.toString(16)}`), readings: [b] }),
  chunk_overflow: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `1${n.toString(16).padStart(16, '0')}`), readings: [b] }),
  chunk_size_space: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)} `), readings: [b] }),
  chunk_ext_quoted_crlf: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, (n) => `${n.toString(16)};a="\r\nx"`), readings: [b] }),
  chunk_bare_lf: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c).replace(/\r\n/g, '\n'), readings: [b.replace(/\r\n/g, '\n')] }),
  chunk_short_size: (b) => ({ lines: ['Transfer-Encoding: chunked'], wire: `1\r\n${b}\r\n0\r\n\r\n`, readings: [b] }),
  last_chunk_unended: (b, c) => ({ lines: ['Transfer-Encoding: chunked'], wire: chunked(b, c, undefined, '0\r\n'), readings: [b] }),
  http10_keep_alive: (b) => ({ lines: ['Connection: keep-alive', `Content-Length: ${len(b)}`], wire: b, readings: [b], version: '1.0' }),
  http10_chunked: (b, c) => ({ lines: ['Connection: keep-alive', 'Transfer-Encoding: chunked'], wire: chunked(b, c), readings: [b], version: '1.0' }),
}

/** The framings any parser reads one way (in the order of FRAMINGS). */
export const ONE_WAY = ['length', 'chunked', 'chunked_case', 'chunked_leading_zeros', 'chunked_extensions', 'chunked_trailer']
