/**
 * JSON number literals kept as the caller wrote them through JSON.parse and JSON.stringify:
 * JSON.parse would turn 12345678901234567890 into 12345678901234567000, and 1.10 into 1.1. The
 * payload-field step (json-payload.ts) parses with parseKeepingNumbers and restores after.
 */
const isNumberStart = (b: number): boolean => b === 0x2d || (b >= 0x30 && b <= 0x39)
const isNumberByte = (b: number): boolean => isNumberStart(b) || b === 0x2b || b === 0x2e || b === 0x45 || b === 0x65

/**
 * Calls `each` with the byte range of every number literal of JSON text outside strings. No object
 * per literal: a 10 MiB body holds millions of them.
 */
function scanNumbers(bytes: Uint8Array, each: (start: number, end: number, buf: Buffer) => void): void {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let inString = false
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] as number
    if (inString) {
      if (b === 0x5c) i++
      else if (b === 0x22) inString = false
    } else if (b === 0x22) inString = true
    else if (isNumberStart(b)) {
      let end = i + 1
      while (end < buf.length && isNumberByte(buf[end] as number)) end++
      each(i, end, buf)
      i = end - 1
    }
  }
}

/** Whether JSON.parse then JSON.stringify writes the literal back as it is. */
function isLossless(text: string): boolean {
  return JSON.stringify(Number(text)) === text
}

/**
 * The number literals of JSON text (outside strings) that JSON.parse then JSON.stringify would not
 * write back as they are: more digits than a double holds, a trailing fraction zero, an exponent,
 * `-0`. Their byte ranges, in order; empty for most bodies.
 */
export function lossyNumbers(bytes: Uint8Array): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = []
  scanNumbers(bytes, (start, end, buf) => void (isLossless(buf.toString('latin1', start, end)) || out.push({ start, end })))
  return out
}

// Markers are integers in [2^52, 2^53): JSON.stringify writes each as exactly MARKER_DIGITS digits.
const MARKER_LOW = 2 ** 52
const MARKER_DIGITS = 16

/**
 * JSON.parse, keeping the exact text of the numbers `lossyNumbers` finds: the i-th is parsed as the
 * integer base + i (a number, as the literal was, and no string or object per literal), the base
 * random and chosen so that no number the caller wrote as it is falls among the markers; `restore`
 * puts each literal back where the serialised document holds its marker (a number token outside
 * strings). Everything else is JSON.parse's (the last of duplicate keys wins).
 */
export function parseKeepingNumbers(raw: Buffer, decoding: BufferEncoding = 'utf8'): { doc: unknown; restore(out: Buffer): Buffer } {
  // Parsed as it is first: a malformed body (`1.2.3` included) is refused, never made valid by the markers.
  const plain: unknown = JSON.parse(raw.toString(decoding))
  const ranges: number[] = []
  const taken: number[] = []
  scanNumbers(raw, (start, end) => {
    const text = raw.toString('latin1', start, end)
    if (!isLossless(text)) ranges.push(start, end)
    else if (end - start === MARKER_DIGITS) taken.push(Number(text))
  })
  const count = ranges.length / 2
  if (count === 0) return { doc: plain, restore: (out) => out }
  let base: number
  do base = MARKER_LOW + Math.floor(Math.random() * (MARKER_LOW - count))
  while (taken.some((n) => n >= base && n < base + count))
  // The body with each lossy literal replaced by its marker, copied once into one buffer.
  let length = raw.length
  for (let k = 0; k < ranges.length; k += 2) length += MARKER_DIGITS - ((ranges[k + 1] as number) - (ranges[k] as number))
  const marked = Buffer.allocUnsafe(length)
  let at = 0
  let to = 0
  for (let k = 0; k < ranges.length; k += 2) {
    to += raw.copy(marked, to, at, ranges[k] as number)
    to += marked.write(String(base + k / 2), to, 'latin1')
    at = ranges[k + 1] as number
  }
  raw.copy(marked, to, at)
  const doc: unknown = JSON.parse(marked.toString(decoding))
  const restore = (out: Buffer): Buffer => {
    const pieces: number[] = []
    let grown = 0
    scanNumbers(out, (start, end) => {
      if (end - start !== MARKER_DIGITS) return
      const n = Number(out.toString('latin1', start, end))
      if (!(n >= base && n < base + count)) return
      const i = n - base
      pieces.push(start, end, i)
      grown += (ranges[2 * i + 1] as number) - (ranges[2 * i] as number) - MARKER_DIGITS
    })
    if (pieces.length === 0) return out
    const result = Buffer.allocUnsafe(out.length + grown)
    let from = 0
    let into = 0
    for (let k = 0; k < pieces.length; k += 3) {
      const i = pieces[k + 2] as number
      into += out.copy(result, into, from, pieces[k] as number)
      into += raw.copy(result, into, ranges[2 * i] as number, ranges[2 * i + 1] as number)
      from = pieces[k + 1] as number
    }
    out.copy(result, into, from)
    return result
  }
  return { doc, restore }
}
