/**
 * Which of a caller's query (or form-body) parameters a common backend parser would read as a
 * parameter the gateway sets. Parsers disagree on names: PHP ends a name at NUL, drops leading
 * spaces and reads " " and "." as "_"; PHP, Rails and Express's qs nest `acct[]`/`acct[x]`
 * under `acct` (Rack 2 and qs read `[acct]` as `acct`); ASP.NET compares names ignoring case;
 * Rack 2, Perl CGI, Go < 1.17 and Python < 3.9.2 also split on ";"; some decode twice. A caller
 * parameter whose readings meet a gateway name's would sit beside the gateway's value, and the
 * backend might take the caller's: such parameters are removed, everything else kept byte for
 * byte. JSON bodies have names too: binders that ignore case (ASP.NET Core, Jackson, Go's
 * encoding/json by default) read `ACCT` or `Acct` as `acct` (jsonNameFoldKeys). The rule is in
 * docs/paths.md ("Parameters and headers the gateway sets").
 */
import { formDecode, percentEncode } from '../oauth1/index.js'

const MAX_DECODE_ROUNDS = 3
// A name no parser reads differently (apart from case): no decoding, spacing, bracket or NUL.
const PLAIN_NAME = /^[A-Za-z0-9_-]+$/
const PIECES = /([&;])/
// Between the keys of a nested name (`a[b]` is a, b); a name ends at NUL, so no key holds one.
const KEY_SEPARATOR = '\0'

/**
 * The names, as key paths, that common parsers may read a raw (still percent-encoded) parameter
 * name as: percent-decoded up to three times (`+` a space; `%uXXXX` too, as System.Web decodes
 * it), cut at a NUL (PHP), case-folded (ASP.NET), and each of that nested as Rails/Rack and qs nest it (a name without brackets is
 * itself: servlets, Go, Python) and as PHP registers it.
 */
export function parameterNameReadings(raw: string): Set<string> {
  const readings = new Set<string>()
  addReadings(raw, readings, true)
  return readings
}

// System.Web (ASP.NET on .NET Framework, classic ASP) decodes `%uXXXX` as one UTF-16 code unit.
const PERCENT_U = /%u[0-9a-f]{4}/i
const decodePercentU = (s: string): string => s.replace(/%u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))

/** parameterNameReadings' readings of `raw` into `readings`; `withPercentU`: also of each level with `%uXXXX` decoded. */
function addReadings(raw: string, readings: Set<string>, withPercentU: boolean): void {
  let level = raw
  for (let round = 0; ; round++) {
    if (withPercentU && PERCENT_U.test(level)) addReadings(decodePercentU(level), readings, false)
    // Cut at NUL also keeps KEY_SEPARATOR out of every key.
    const spelled = level.split('\0', 1)[0] as string
    for (const folded of new Set([spelled.toLowerCase(), spelled.toUpperCase().toLowerCase()])) {
      // The exact name needs no reading of its own: names equal as sent are equal nested too.
      readings.add(nestedPath(folded))
      readings.add(phpPath(folded))
    }
    if (round === MAX_DECODE_ROUNDS || !/[%+]/.test(level)) return
    const next = formDecode(level)
    if (next === level) return
    level = next
  }
}

/**
 * Rack (Rails) and qs (Express): `a[b][c]` is the keys a, b, c and `a[]` a's list; leading
 * brackets are skipped (`[a]` is a: Rack 2, qs), and so are "]" after the first key (Rack 2).
 */
function nestedPath(name: string): string {
  const first = /^[[\]]*([^[\]]+)\]*/.exec(name)
  if (first === null) return name
  const keys = [first[1] as string]
  let rest = name.slice(first[0].length)
  for (let group = /^\[([^[\]]*)\]?/.exec(rest); group !== null && rest !== ''; group = /^\[([^[\]]*)\]?/.exec(rest)) {
    keys.push(group[1] as string)
    rest = rest.slice(group[0].length)
  }
  return keys.join(KEY_SEPARATOR)
}

/**
 * PHP's php_register_variable_ex: leading spaces dropped, " " and "." read as "_" up to the
 * first "[", which starts the keys `[b][c]` when a "]" follows and is itself read as "_" when
 * none does (`a[b` is `a_b`).
 */
function phpPath(name: string): string {
  const s = name.replace(/^ +/, '')
  const open = s.indexOf('[')
  const base = (open === -1 ? s : s.slice(0, open)).replace(/[ .]/g, '_')
  if (open === -1) return base
  if (!s.includes(']', open)) return `${base}_${s.slice(open + 1)}`
  const keys = [base]
  let rest = s.slice(open)
  for (let group = /^\[([^\]]*)\]/.exec(rest); group !== null; group = /^\[([^\]]*)\]/.exec(rest)) {
    keys.push(group[1] as string)
    rest = rest.slice(group[0].length)
  }
  return keys.join(KEY_SEPARATOR)
}

/**
 * The key paths a backend that merges a JSON body over the query (Laravel's `input()`: the body's
 * keys win) may read the gateway's query parameter `name` (as configured, decoded) under: nested as
 * Rails/qs nest it and as PHP registers it (`filter[acct]` is filter → acct; `Acct.No` is PHP's
 * `Acct_No` and itself).
 */
export function jsonPathsOfQueryName(name: string): string[][] {
  const paths = new Set([nestedPath(name), phpPath(name)])
  return [...paths].map((p) => p.split(KEY_SEPARATOR))
}

/** The key path and every shorter one (`a`, `a\0b` for `a\0b`). */
function prefixesOf(path: string): string[] {
  const keys = path.split(KEY_SEPARATOR)
  return keys.map((_, i) => keys.slice(0, i + 1).join(KEY_SEPARATOR))
}

/**
 * A test for raw parameter names: true when a backend may read the name as one of `names`
 * (decoded names, as configured), or as a key that contains one or lies inside one (`acct[]`
 * beside `acct`, `filter` beside `filter[acct]`); `filter[status]` and `filter[acct]` stay apart.
 */
export function parameterMatcher(names: readonly string[]): (rawName: string) => boolean {
  const taken = new Set<string>()
  const takenOrInside = new Set<string>()
  for (const name of names) {
    for (const r of parameterNameReadings(percentEncode(name))) {
      taken.add(r)
      for (const p of prefixesOf(r)) takenOrInside.add(p)
    }
  }
  return (rawName) => {
    if (PLAIN_NAME.test(rawName)) return takenOrInside.has(rawName.toLowerCase())
    for (const r of parameterNameReadings(rawName)) {
      if (takenOrInside.has(r) || prefixesOf(r).some((p) => taken.has(p))) return true
    }
    return false
  }
}

/** True when a backend may read the raw name (its first key) as one that starts with `prefix` (lower-case). */
export function readsWithPrefix(rawName: string, prefix: string): boolean {
  if (PLAIN_NAME.test(rawName)) return rawName.toLowerCase().startsWith(prefix)
  for (const r of parameterNameReadings(rawName)) if (r.startsWith(prefix)) return true
  return false
}

/** The raw name of a `name=value` piece. */
function nameOfPiece(piece: string): string {
  const eq = piece.indexOf('=')
  return eq === -1 ? piece : piece.slice(0, eq)
}

/**
 * `text` (a query without its "?", or a form body) without every piece — split on "&" and on
 * ";" — that `drop` matches (by its raw name, or the whole `name=value` piece); every other byte stays, delimiters included.
 */
export function removeParameters(text: string, drop: (rawName: string, piece: string) => boolean): string {
  const pieces = text.split(PIECES)
  let out = ''
  let emitted = false
  let removed = false
  for (let i = 0; i < pieces.length; i += 2) {
    const piece = pieces[i] as string
    if (piece !== '' && drop(nameOfPiece(piece), piece)) {
      removed = true
      continue
    }
    out += emitted ? `${pieces[i - 1] as string}${piece}` : piece
    emitted = true
  }
  return removed ? out : text
}

/** The raw names of the pieces of `text` (split on "&" and ";") that `matches`, in order. */
export function findParameters(text: string, matches: (rawName: string) => boolean): string[] {
  const found: string[] = []
  for (const piece of text.split(/[&;]/)) {
    if (piece === '') continue
    const name = nameOfPiece(piece)
    if (matches(name)) found.push(name)
  }
  return found
}

// Simple case folding (what Go's EqualFold and JS's /iu compare) joins these, though neither
// code point's case mapping reaches the other; and it keeps ı apart from i, which upper case joins.
// (The test checks the whole fold against /iu over every cased code point.)
const FOLD_SPECIALS: ReadonlyMap<string, string> = new Map([['\u1fd3', '\u0390'], ['\u1fe3', '\u03b0'], ['\ufb05', '\ufb06'], ['\u0131', '\u0131']])
const ASCII = /^[\x00-\x7f]*$/

const isOneCodePoint = (s: string): boolean => s.length === 1 || (s.length === 2 && (s.codePointAt(0) as number) > 0xffff)

/** One code point's simple case folding class, as one member: its simple upper case's simple lower case. */
function foldCodePoint(c: string): string {
  const special = FOLD_SPECIALS.get(c)
  if (special !== undefined) return special
  const upper = c.toUpperCase()
  const up = isOneCodePoint(upper) ? upper : c
  const lower = up.toLowerCase()
  return isOneCodePoint(lower) ? lower : up
}

/**
 * The forms under which case-insensitive JSON binders compare a property name: whole-string
 * lower case (Jackson's ACCEPT_CASE_INSENSITIVE_PROPERTIES), whole-string upper case (which also
 * decides System.Text.Json's and Newtonsoft's OrdinalIgnoreCase: code points with equal simple
 * upper cases have equal full ones, so ı is I), and per code point simple case folding — Go's
 * encoding/json matches names with EqualFold by default (K, the Kelvin sign, is k; ſ is s).
 */
export function jsonNameFolds(name: string): readonly [string, string, string] {
  const lower = name.toLowerCase()
  if (ASCII.test(name)) return [lower, name.toUpperCase(), lower]
  let folded = ''
  for (const c of name) folded += foldCodePoint(c)
  return [lower, name.toUpperCase(), folded]
}

// Jackson lower-cases in the default Locale (tr/az: İ is i, I is ı): I, ı, İ, i are one letter here (over-removal is harmless).
const TURKIC_I = /[iI\u0131\u0130]\u0307?/g

/** `name`'s folded forms, tagged by comparison (names a binder reads as one share one); only the part before a NUL counts (cJSON ends a key there). */
export function jsonNameFoldKeys(name: string): string[] {
  const nul = name.indexOf('\0')
  const cut = nul === -1 ? name : name.slice(0, nul)
  const f = jsonNameFolds(cut)
  const turkic = ASCII.test(cut) ? f[0] : jsonNameFolds(cut.replace(TURKIC_I, 'i'))[2]
  return [`l${f[0]}`, `u${f[1]}`, `f${f[2]}`, `t${turkic}`]
}
