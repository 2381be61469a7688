/**
 * The readings a backend may make of text that goes into a URL path: as sent, after up to three
 * percent-decodings, and folded to Unicode's compatibility form (NFKC), which some backends and
 * frameworks apply to a decoded path before they route or open a file. Folding makes `．`
 * (U+FF0E) a `.` and `／` (U+FF0F) a `/`: `%EF%BC%8E%EF%BC%8E` is `..` to such a backend. The
 * request-path rules and the one-segment rule judge every reading, so no spelling that one of
 * them refuses gets through in another.
 */

/** One reading of a path or value. */
export interface PathReading {
  /** The text this reading sees. */
  readonly text: string
  /** Percent-decodings that made it (0: as sent). */
  readonly depth: number
  /** The text it was folded from (unicodeReading), when it is a folded reading. */
  readonly unfolded?: string
}

/** Decodings a backend may apply (one is usual; a proxy and a framework each decoding is seen). */
const MAX_DECODE_ROUNDS = 3
const NON_ASCII = /[^\x00-\x7f]/

/**
 * Symbols NFKC leaves alone but Unicode's confusables (UTS #39) read as `/` or `\`, as lossy
 * conversions do (a Unicode path handed to a code-page API): the division, fraction and big
 * slashes, set minus and the reverse-solidus operators. Symbols only: a look-alike letter
 * (Katakana ノ) is text in a path.
 */
const SOLIDUS_LOOKALIKES: Readonly<Record<string, string>> = { '\u2044': '/', '\u2215': '/', '\u29f8': '/', '\u2216': '\\', '\u29f5': '\\', '\u29f9': '\\' }
const LOOKALIKE = /[\u2044\u2215\u29f8\u2216\u29f5\u29f9]/g

/** `text` as a backend that folds Unicode reads it: NFKC, then the solidus look-alikes as `/` and `\`. ASCII text is its own reading. */
export function unicodeReading(text: string): string {
  if (!NON_ASCII.test(text)) return text
  return text.normalize('NFKC').replace(LOOKALIKE, (c) => SOLIDUS_LOOKALIKES[c] as string)
}

/** The first code point of `text` whose Unicode reading holds one of `chars` (`U+FF0E` for "."), for a message; undefined when none. */
export function foldingCodePoint(text: string, chars: RegExp): string | undefined {
  for (const c of text) {
    if (NON_ASCII.test(c) && chars.test(unicodeReading(c))) return `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`
  }
  return undefined
}

/**
 * The first problem `judge` finds among the readings of `text`: as sent, then after each of up to
 * three percent-decodings; every reading also folded (unicodeReading) and decoded on from there
 * (NFKC makes `％２ｅ` `%2e`, a `.` one decoding later). A reading that does not decode (octets
 * that are not UTF-8, a lone `%`) ends its line; `undecodable` says whether that is a problem.
 */
export function firstReadingProblem<T>(text: string, judge: (r: PathReading) => T | undefined, undecodable: (r: PathReading) => T | undefined): T | undefined {
  const seen = new Set<string>()
  let level: PathReading[] = [{ text, depth: 0 }]
  for (let depth = 0; level.length > 0; depth++) {
    const next: PathReading[] = []
    for (const reading of level) {
      const folded = unicodeReading(reading.text)
      for (const r of folded === reading.text ? [reading] : [reading, { text: folded, depth, unfolded: reading.text }]) {
        const problem = judge(r)
        if (problem !== undefined) return problem
        // A text decoded before (at this depth or above) was decoded on with as many rounds left or more.
        if (depth === MAX_DECODE_ROUNDS || !r.text.includes('%') || seen.has(r.text)) continue
        seen.add(r.text)
        let decoded: string
        try {
          decoded = decodeURIComponent(r.text)
        } catch {
          const stop = undecodable(r)
          if (stop !== undefined) return stop
          continue
        }
        if (decoded !== r.text) next.push({ text: decoded, depth: depth + 1 })
      }
    }
    level = next
  }
  return undefined
}
