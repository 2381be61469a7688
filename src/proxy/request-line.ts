/**
 * Whether a request head still arriving is still in its request line, read across the reads it
 * arrives in. Node's parser refuses a head past maxHeaderSize with one error, whatever overflowed
 * (the request-target alone counts towards it before any header does), and tells only the read it
 * failed in: over TLS a record holds 16 KiB at most, and over TCP a line may come in pieces, so an
 * over-long request line failed in a read holding none of its start and was answered the 431 about
 * headers, not the 414 (RFC 9112 §3). Each read of an unfinished head moves this state on
 * (request-progress.ts); the last, failed one decides (client-error.ts).
 */

/**
 * `open`: the request began and no line end followed (its line goes on); `pending`: the request's
 * last bytes are a run of token characters, its method's or a header name's, undecided yet;
 * `ended`: a line end followed, or it cannot be told (the 431 stays the answer then).
 */
export type LineState = 'open' | 'pending' | 'ended'

const LF = 0x0a
const SP = 0x20
const HTAB = 0x09
const CR = 0x0d
const COLON = 0x3a

/** RFC 9110 §5.6.2 tchar: what a method and a header name are made of. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1

/**
 * The state after `bytes`, a read of the connection (the part the parser took), given the state
 * before it; `undefined` when the request began in this read. A request begins at the start of a
 * read or right after the one before it, whose head ends in a line end: so its bytes here follow
 * the read's last line end, unless its own line ended. They are told apart by what follows that
 * line end: a method and a space start a request line; a header line has a colon after its name,
 * never a space. Behind a body whose last line has no line end, the request begins inside that
 * line: what is neither gives that away. Left unsure (`ended`) only when that line starts as a
 * line of a head would (a name and its colon, a space or tab, a CR).
 */
export function readLine(before: LineState | undefined, bytes: Uint8Array): LineState {
  if (before === 'ended') return 'ended'
  if (before === 'open') return bytes.includes(LF) ? 'ended' : 'open'
  if (before === 'pending') return afterToken(bytes, 0, true)
  const from = bytes.lastIndexOf(LF) + 1
  // The read ends in a line end: the request (begun at a byte that is none) had its line end here.
  if (from === bytes.length) return 'ended'
  const state = afterToken(bytes, from, false)
  // No line of a request head after its request line (a header, a fold, the line end that ends the head): the
  // last line of a body with no line end of its own, the request begun inside it and its line going on.
  return state === 'ended' && !headLine(bytes, from) ? 'open' : state
}

/** True when the line at `from` starts as a line of a head after its request line does: a name and its colon, a fold (space or tab), or a line end. */
function headLine(bytes: Uint8Array, from: number): boolean {
  let i = from
  while (i < bytes.length && TCHAR[bytes[i] as number] === 1) i++
  const next = bytes[i]
  return i > from ? next === COLON : next === SP || next === HTAB || next === CR
}

/** The state after the run of token characters at `from` (`continued`: one begun in an earlier read). */
function afterToken(bytes: Uint8Array, from: number, continued: boolean): LineState {
  let i = from
  while (i < bytes.length && TCHAR[bytes[i] as number] === 1) i++
  if (i === bytes.length) return 'pending'
  if (bytes[i] === SP && (i > from || continued)) return bytes.includes(LF, i) ? 'ended' : 'open'
  return 'ended'
}
