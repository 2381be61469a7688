/**
 * Known secrets taken out of provider text in whatever encoding they came back in. A
 * provider may echo a value percent-encoded (once, twice: a PLAINTEXT signature inside an
 * Authorization header), JSON-escaped or XML-escaped, in any order and any case of hex, in
 * another letter case (`SIG=CONSSEC…`), or inside base64, base64url or hex (a debug header
 * echoing `Authorization` encoded). Listing encoded forms of each secret can never be
 * complete, so the text is decoded instead: one layer of one escape family at a time, every
 * order up to MAX_LAYERS deep, then each of those once more as base64, base64url and hex runs;
 * each decoded character remembers which original characters it came from (a run's, the whole
 * run); a secret found in any decoding, in any letter case, masks those original characters.
 */

// Deeper than any echo seen (a signature in a header is two layers); each layer is a pass over ≤64 KiB.
const MAX_LAYERS = 4
/** Shorter values would mask ordinary words. */
export const MIN_SECRET_LENGTH = 4

/** A decoding of the original text: each code unit with the original range [from, to] it came from. */
interface View {
  readonly text: string
  readonly from: readonly number[]
  readonly to: readonly number[]
}

interface Family {
  readonly pattern: RegExp
  decode(escape: string): string | undefined
}

const XML_NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
const JSON_SHORT: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
const utf8 = new TextDecoder()

function codePoint(n: number): string | undefined {
  return n <= 0x10ffff ? String.fromCodePoint(n) : undefined
}

/** Each escape decodes to one character; a UTF-8 sequence is one escape, a lone byte is Latin-1. */
const FAMILIES: readonly Family[] = [
  {
    pattern: /%[uU][0-9A-Fa-f]{4}|%[fF][0-7](?:%[89aAbB][0-9A-Fa-f]){3}|%[eE][0-9A-Fa-f](?:%[89aAbB][0-9A-Fa-f]){2}|%[cCdD][0-9A-Fa-f]%[89aAbB][0-9A-Fa-f]|%[0-9A-Fa-f]{2}/g,
    decode: (e) => (e[1] === 'u' || e[1] === 'U' ? String.fromCharCode(parseInt(e.slice(2), 16)) : e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : utf8.decode(Uint8Array.from(e.slice(1).split('%'), (h) => parseInt(h, 16)))),
  },
  {
    pattern: /\\u[0-9A-Fa-f]{4}|\\["\\/bfnrt]/g,
    decode: (e) => (e[1] === 'u' ? String.fromCharCode(parseInt(e.slice(2), 16)) : JSON_SHORT[e[1] as string]),
  },
  {
    pattern: /&(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});/g,
    decode: (e) => (e[1] !== '#' ? XML_NAMED[e.slice(1, -1)] : codePoint(e[2] === 'x' || e[2] === 'X' ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10))),
  },
]

/** The bytes of a run as text: each byte one character (any ASCII secret), and as UTF-8 too. */
const asText = (bytes: Buffer): string => `${bytes.toString('latin1')}\u0000${bytes.toString('utf8')}`

/**
 * Binary-to-text encodings, each run decoded whole (every decoded character stands for the whole
 * run) from each alignment it may start at: a run can begin with characters that are not its
 * encoding's (a word before base64 with no separator between).
 */
const RUN_FAMILIES: readonly Family[] = [
  { pattern: /[A-Za-z0-9+/]{8,}={0,2}/g, decode: (run) => [0, 1, 2, 3].map((at) => asText(Buffer.from(run.slice(at), 'base64'))).join('\u0000') },
  { pattern: /[A-Za-z0-9_-]{8,}/g, decode: (run) => [0, 1, 2, 3].map((at) => asText(Buffer.from(run.slice(at), 'base64url'))).join('\u0000') },
  { pattern: /[0-9A-Fa-f]{8,}/g, decode: (run) => [0, 1].map((at) => asText(Buffer.from(run.slice(at), 'hex'))).join('\u0000') },
]

/** `view` with one layer of `family` decoded, or undefined when it holds none of its escapes. */
function decodeLayer(view: View, family: Family): View | undefined {
  const parts: string[] = []
  const from: number[] = []
  const to: number[] = []
  const keep = (start: number, end: number): void => {
    parts.push(view.text.slice(start, end))
    for (let i = start; i < end; i++) {
      from.push(view.from[i] as number)
      to.push(view.to[i] as number)
    }
  }
  let last = 0
  let changed = false
  for (const m of view.text.matchAll(family.pattern)) {
    const decoded = family.decode(m[0])
    if (decoded === undefined) continue
    changed = true
    keep(last, m.index)
    parts.push(decoded)
    for (let i = 0; i < decoded.length; i++) {
      from.push(view.from[m.index] as number)
      to.push(view.to[m.index + m[0].length - 1] as number)
    }
    last = m.index + m[0].length
  }
  if (!changed) return undefined
  keep(last, view.text.length)
  return { text: parts.join(''), from, to }
}

/** Every decoding of `text` up to MAX_LAYERS layers deep, in every order of families, the text itself first. */
function decodings(text: string): View[] {
  const identity = Array.from({ length: text.length }, (_, i) => i)
  const views: View[] = [{ text, from: identity, to: identity }]
  const seen = new Set([text])
  let layer = views
  for (let depth = 0; depth < MAX_LAYERS && layer.length > 0; depth++) {
    const next: View[] = []
    for (const view of layer) {
      for (const family of FAMILIES) {
        const decoded = decodeLayer(view, family)
        if (decoded === undefined || seen.has(decoded.text)) continue
        seen.add(decoded.text)
        next.push(decoded)
      }
    }
    views.push(...next)
    layer = next
  }
  // Once, not layered: almost any text holds runs these match, so every order of them would be every text many times.
  return [...views, ...views.flatMap((view) => RUN_FAMILIES.flatMap((family) => decodeLayer(view, family) ?? []))]
}

/** A secret as a pattern, in any letter case; a space also matches `+`, a form's space (a `+` is never decoded: it may be itself). */
function secretPattern(secret: string): RegExp {
  return new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll(' ', '[ +]'), 'gi')
}

/** The original ranges [start, end] of every match of `patterns` and of every `params` value, in every decoding of `text`. */
function secretRanges(text: string, patterns: readonly RegExp[], params: readonly RegExp[]): [number, number][] {
  const ranges: [number, number][] = []
  for (const view of decodings(text)) {
    for (const pattern of patterns) {
      for (const m of view.text.matchAll(pattern)) ranges.push([view.from[m.index] as number, view.to[m.index + m[0].length - 1] as number])
    }
    for (const param of params) {
      for (const m of view.text.matchAll(param)) {
        const start = m.index + (m[1] ?? '').length
        const end = m.index + m[0].length - 1
        if (end >= start) ranges.push([view.from[start] as number, view.to[end] as number])
      }
    }
  }
  return ranges
}

/** `text` with each range replaced by one `mask` (overlapping and adjacent-inside ranges merged). */
function maskRanges(text: string, ranges: [number, number][], mask: string): string {
  if (ranges.length === 0) return text
  ranges.sort((a, b) => a[0] - b[0])
  let out = ''
  let at = 0
  for (const [start, end] of ranges) {
    if (end < at) continue
    if (start >= at) out += text.slice(at, start) + mask
    at = end + 1
  }
  return out + text.slice(at)
}

/**
 * A function giving its text with every secret (of at least MIN_SECRET_LENGTH) replaced by `mask`, in any
 * encoding it was echoed in; likewise the value of every match of `params` (global patterns whose group 1 is
 * the parameter's name and whatever precedes the value, kept), found in every decoding too:
 * `oauth_signature=\"…\"` in a JSON echo of the request is `oauth_signature="…"` one layer down. The
 * patterns are made once, for the many strings of one reply.
 */
export function secretRedactor(secrets: Iterable<string>, mask: string, params: readonly RegExp[] = []): (text: string) => string {
  const patterns = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).map(secretPattern)
  if (patterns.length === 0 && params.length === 0) return (text) => text
  return (text) => (text === '' ? text : maskRanges(text, secretRanges(text, patterns, params), mask))
}

/** `text` through a secretRedactor of `secrets`, `mask` and `params`. */
export function redactSecrets(text: string, secrets: Iterable<string>, mask: string, params: readonly RegExp[] = []): string {
  return secretRedactor(secrets, mask, params)(text)
}
