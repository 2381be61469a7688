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
   * The JSON line with every known value and credential shape replaced. A known value found
   * inside a number (outside any string: a PIN's digits in `"responseBytes":120011`) takes the
   * whole number with it, replaced by the string `"[REDACTED]"`, so the line stays valid JSON.
   */
  redact(line: string): string
  readonly size: number
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Characters of a JSON number. */
const NUMBER_CHAR = /[-+.0-9eE]/
const NUMBER_TEXT = /^[-+.0-9eE]+$/

/** True when `at` of a JSON text lies outside every string (quotes counted from the start, escapes skipped). */
function outsideStrings(line: string, at: number): boolean {
  let inString = false
  for (let i = 0; i < at; i++) {
    const c = line.charCodeAt(i)
    if (c === 0x5c && inString) i++ // a backslash escapes the next character
    else if (c === 0x22) inString = !inString
  }
  return !inString
}

/** The whole JSON number around line[start, end), when the match lies inside one (a value outside strings). */
function numberAround(line: string, start: number, end: number): { start: number; end: number } | undefined {
  if (!NUMBER_TEXT.test(line.slice(start, end))) return undefined
  let s = start
  let e = end
  while (s > 0 && NUMBER_CHAR.test(line[s - 1] as string)) s--
  while (e < line.length && NUMBER_CHAR.test(line[e] as string)) e++
  // A value position: after `:`, `,` or `[`, before `,`, `}` or `]` (the writers put no spaces there).
  if (!':,['.includes(line[s - 1] ?? '') || !',}]'.includes(line[e] ?? '')) return undefined
  return outsideStrings(line, s) ? { start: s, end: e } : undefined
}

/** Every match of `pattern` (global) replaced; one inside a number replaces that number with the string "[REDACTED]". */
function replaceKnown(line: string, pattern: RegExp): string {
  pattern.lastIndex = 0
  let m = pattern.exec(line)
  if (m === null) return line
  let out = ''
  let at = 0
  for (; m !== null; m = pattern.exec(line)) {
    if (m.index < at) continue // inside a number already replaced
    const number = numberAround(line, m.index, m.index + m[0].length)
    if (number) {
      out += `${line.slice(at, number.start)}"${REDACTED}"`
      at = number.end
    } else {
      out += line.slice(at, m.index) + REDACTED
      at = m.index + m[0].length
    }
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
  return {
    add(list) {
      for (const v of list) {
        if (typeof v !== 'string' || v.length < minLength || values.has(v)) continue
        values.add(v)
        if (values.size > maxValues) values.delete(values.values().next().value as string)
        pattern = undefined
      }
    },
    redact(line) {
      if (pattern === undefined) pattern = build()
      let out = pattern ? replaceKnown(line, pattern) : line
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
