/**
 * A batch of log lines as the bytes of one write. Each line is encoded straight into the buffer:
 * encoding the lines joined into one string made V8 flatten the ~150-line rope first (a copy and a
 * walk of its pieces), about a fifth of an access line's CPU (docs/performance.md, session 49).
 */

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff

/** `Buffer.from(lines.join(''), 'utf8')`, byte for byte, without the joined string. */
export function encodedLines(lines: readonly string[]): Buffer {
  let bytes = 0
  for (const line of lines) {
    // Half a surrogate pair at a line's end pairs with the next line's start in the joined text
    // (one character, not two replacement characters): such a batch is encoded joined.
    if (isHighSurrogate(line.charCodeAt(line.length - 1))) return Buffer.from(lines.join(''), 'utf8')
    bytes += Buffer.byteLength(line, 'utf8')
  }
  const out = Buffer.allocUnsafe(bytes)
  let at = 0
  for (const line of lines) at += out.write(line, at, 'utf8')
  return out
}
