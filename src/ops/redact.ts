/**
 * Redaction by value: every finished log line is scanned for known secret values (config
 * secrets, injected field values, tokens registered at runtime) and for credential shapes
 * (`Bearer …`, `oauth_signature=…`). Key-based redaction alone misses a secret that ends up
 * in an error message or a URL, so this runs on the serialized line, after every serializer.
 */

/** The text that replaces a secret. */
export const REDACTED = '[REDACTED]'

/** Header and field names whose values are always replaced, wherever they sit in a log object. */
export const SECRET_KEYS = [
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key',
  'oauth_signature', 'oauth_token', 'oauth_token_secret', 'oauth_verifier', 'oauth_body_hash',
  'token', 'access_token', 'refresh_token', 'id_token', 'tokenSecret', 'consumerSecret',
  'password', 'passphrase', 'keyPassphrase', 'pkcs12Passphrase', 'privateKeyPassphrase', 'secret', 'client_secret',
] as const

/** pino `redact.paths` for SECRET_KEYS at the top level and two levels down. */
export function secretKeyPaths(): string[] {
  return SECRET_KEYS.flatMap((k) => {
    const access = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : `["${k}"]`
    const sep = access.startsWith('[') ? '' : '.'
    return [access, `*${sep}${access}`, `*.*${sep}${access}`]
  })
}

// Credential shapes that may appear in free text (error messages, URLs) without being known values.
const SCHEME = /\b(Bearer|Basic|Digest)(\s+)[A-Za-z0-9._~+/=-]{4,}/g
const PARAM = /\b(oauth_signature|oauth_token|oauth_token_secret|oauth_verifier|access_token|refresh_token|id_token|token|client_secret|password|api_key|apikey|sig|signature)=(\\?"?)[^&\s",\\]+/gi

/** Limits of value redaction. */
export interface RedactorOptions {
  /** Values shorter than this are ignored: redacting "a" would shred every line (default 4). */
  minLength?: number
  /** Oldest values are forgotten beyond this many (default 10 000), so runtime registration cannot grow without bound. */
  maxValues?: number
}

/** Known secret values plus credential shapes, applied to whole lines. */
export interface Redactor {
  /** Registers values to redact from now on (config secrets, field values, tokens). */
  add(values: Iterable<string>): void
  /**
   * The JSON line with every known value and credential shape replaced, still JSON: inside a
   * string the value's text goes; a number or literal holding it (a PIN's digits in
   * `"responseBytes":120011`) is replaced whole by the string `"[REDACTED]"`; quotes and the
   * structure between values always stay.
   */
  redact(line: string): string
  /** The known-value pass of redact() alone: the credential shapes are left in. */
  known(line: string): string
  readonly size: number
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A value of a JSON line: a string (its quotes included) or a bare number or literal. */
interface ValueToken {
  start: number
  end: number
  string: boolean
  /** A string's text, per character: where the escape sequence holding it starts (made when a match first needs it). */
  units?: Int32Array
}

/** JSON's structural characters and whitespace: what separates bare values. */
const SEPARATORS = new Set(['{', '}', '[', ']', ':', ',', ' ', '\t', '\n', '\r'])

/** The line's strings and bare values, in order (escapes skipped; an unterminated string runs to the end). */
function valueTokens(line: string): ValueToken[] {
  const tokens: ValueToken[] = []
  for (let i = 0; i < line.length; ) {
    if (line[i] === '"') {
      let j = i + 1
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1
      const end = Math.min(j + 1, line.length)
      tokens.push({ start: i, end, string: true })
      i = end
    } else if (SEPARATORS.has(line[i] as string)) {
      i++
    } else {
      let j = i + 1
      while (j < line.length && line[j] !== '"' && !SEPARATORS.has(line[j] as string)) j++
      tokens.push({ start: i, end: j, string: false })
      i = j
    }
  }
  return tokens
}

/** Length of the character or escape sequence (`\"`, `\u00e9`) starting at `at`. */
const unitLength = (line: string, at: number): number => (line[at] !== '\\' ? 1 : line[at + 1] === 'u' ? 6 : 2)

/**
 * For each character of a string's text [from, to), where the character or escape sequence
 * holding it starts: one pass per string, so many matches in one long string stay linear.
 */
function unitStarts(line: string, from: number, to: number): Int32Array {
  const starts = new Int32Array(to - from)
  for (let i = from; i < to; i += unitLength(line, i)) {
    const end = Math.min(i + unitLength(line, i), to)
    for (let k = i; k < end; k++) starts[k - from] = i
  }
  return starts
}

/** One replacement: line[start, end) becomes text. */
interface Cut {
  start: number
  end: number
  text: string
}

/** What a match over [start, end) takes from one value: within a string, the matched text in whole escapes; a bare value whole. */
function cutOf(line: string, token: ValueToken, start: number, end: number): Cut {
  if (!token.string) return { start: token.start, end: token.end, text: `"${REDACTED}"` }
  const textEnd = line[token.end - 1] === '"' && token.end - 1 > token.start ? token.end - 1 : token.end
  const from = Math.max(start, token.start + 1)
  const to = Math.min(end, textEnd)
  if (to <= from) return { start: from, end: from, text: '' } // the match touched only a quote
  const textStart = token.start + 1
  const units = (token.units ??= unitStarts(line, textStart, textEnd))
  const last = units[to - 1 - textStart] as number
  return { start: units[from - textStart] as number, end: Math.min(last + unitLength(line, last), textEnd), text: REDACTED }
}

/**
 * Every match of `pattern` (global) replaced so that the line stays JSON whatever the secret
 * holds: within a string the matched text (in whole escape sequences) becomes [REDACTED]; a
 * number or literal the match touches becomes the string "[REDACTED]" (a PIN's digits inside
 * `"responseBytes":120011`). Quotes and the structure between values are never removed, so a
 * match that spans values (a secret holding `,` or `"`) cannot cut the line.
 */
function replaceKnown(line: string, pattern: RegExp): string {
  pattern.lastIndex = 0
  let m = pattern.exec(line)
  if (m === null) return line
  // Only a line holding a secret is tokenized.
  const tokens = valueTokens(line)
  const cuts: Cut[] = []
  let t = 0
  for (; m !== null; m = pattern.exec(line)) {
    const start = m.index
    const end = start + m[0].length
    while (t < tokens.length && (tokens[t] as ValueToken).end <= start) t++
    for (let k = t; k < tokens.length && (tokens[k] as ValueToken).start < end; k++) {
      const cut = cutOf(line, tokens[k] as ValueToken, start, end)
      const last = cuts[cuts.length - 1]
      // Matches come in order: a cut overlapping the last one is in the same value, so they merge.
      if (last && cut.start < last.end && cut.text !== '') {
        last.end = Math.max(last.end, cut.end)
        last.text = last.text || cut.text
      } else if (cut.text !== '') cuts.push(cut)
    }
  }
  let out = ''
  let at = 0
  for (const c of cuts) {
    out += line.slice(at, c.start) + c.text
    at = c.end
  }
  return out + line.slice(at)
}

/** Creates an empty redactor. */
export function createRedactor(o: RedactorOptions = {}): Redactor {
  const minLength = o.minLength ?? 4
  const maxValues = o.maxValues ?? 10_000
  const values = new Set<string>()
  let pattern: RegExp | null | undefined = null
  const build = (): RegExp | null => {
    if (values.size === 0) return null
    const forms = new Set<string>()
    for (const v of values) {
      forms.add(v)
      // Inside a JSON line a value with quotes, backslashes or newlines appears escaped.
      forms.add(JSON.stringify(v).slice(1, -1))
    }
    // Longest first, so a secret containing another secret is replaced whole.
    const sorted = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp)
    return new RegExp(sorted.join('|'), 'g')
  }
  const known = (line: string): string => {
    if (pattern === undefined) pattern = build()
    return pattern ? replaceKnown(line, pattern) : line
  }
  return {
    add(list) {
      for (const v of list) {
        if (typeof v !== 'string' || v.length < minLength || values.has(v)) continue
        values.add(v)
        if (values.size > maxValues) values.delete(values.values().next().value as string)
        pattern = undefined
      }
    },
    known,
    redact(line) {
      let out = known(line)
      // Each shape needs a literal the line must hold: most lines skip both scans.
      if (out.includes('Bearer') || out.includes('Basic') || out.includes('Digest')) out = out.replace(SCHEME, `$1$2${REDACTED}`)
      if (out.includes('=')) out = out.replace(PARAM, `$1=$2${REDACTED}`)
      return out
    },
    get size() {
      return values.size
    },
  }
}
