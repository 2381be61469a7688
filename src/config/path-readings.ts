/**
 * The readings a backend may make of text that goes into a URL path: as sent, after up to three
 * percent-decodings, and folded to Unicode's compatibility form (NFKC), which some backends and
 * frameworks apply to a decoded path before they route or open a file. Folding makes `．`
 * (U+FF0E) a `.` and `／` (U+FF0F) a `/`: `%EF%BC%8E%EF%BC%8E` is `..` to such a backend. The
 * request-path rules and the one-segment rule judge every reading, so no spelling that one of
 * them refuses gets through in another. The slash look-alikes NFKC keeps (`∕`) are read as `/`
 * where the path holds them, not where NFKC wrote them (`½` is `1⁄2`, a fraction): a reading
 * that takes those for separators too (`lossy`) is judged for dot-segments only.
 */

/** One reading of a path or value. */
export interface PathReading {
  /** The text this reading sees. */
  readonly text: string
  /** Percent-decodings that made it (0: as sent). */
  readonly depth: number
  /** The text it was folded from (unicodeReading), when it is a folded reading. */
  readonly unfolded?: string
  /**
   * Set on the readings of a backend that also takes the look-alikes NFKC wrote for `/` and `\`
   * (a lossy conversion after folding: `⅟..` is `1⁄..`, then `1/..`). Only a dot-segment in it
   * counts: a fraction or a unit split in two (`1/2`) moves nothing out of the base path.
   */
  readonly lossy?: true
}

/** Decodings a backend may apply (one is usual; a proxy and a framework each decoding is seen). */
const MAX_DECODE_ROUNDS = 3
const NON_ASCII = /[^\x00-\x7f]/

/**
 * Symbols NFKC leaves alone but Unicode's confusables (UTS #39) read as `/` or `\`, as lossy
 * conversions do (a Unicode path handed to a code-page API): the division, fraction and big
 * slashes, set minus and the reverse-solidus operators. Symbols only: a look-alike letter
 * (Katakana ノ) is text in a path. Read as written only: NFKC writes `½` as `1⁄2` and `㎧` as
 * `m∕s` (U+2044, U+2215), a fraction and a unit, not a separator the path holds.
 */
const SOLIDUS_LOOKALIKES: Readonly<Record<string, string>> = { '\u2044': '/', '\u2215': '/', '\u29f8': '/', '\u2216': '\\', '\u29f5': '\\', '\u29f9': '\\' }
const LOOKALIKE = /[\u2044\u2215\u29f8\u2216\u29f5\u29f9]/g
const HAS_LOOKALIKE = /[\u2044\u2215\u29f8\u2216\u29f5\u29f9]/

/** `text` with its solidus look-alikes as `/` and `\`: one UTF-16 unit for one, so it stays aligned with `text`. */
const readLookalikes = (text: string): string => text.replace(LOOKALIKE, (c) => SOLIDUS_LOOKALIKES[c] as string)

/** `text` as a backend that folds Unicode reads it: the solidus look-alikes it holds as `/` and `\`, then NFKC (`lossy`: those NFKC wrote too). ASCII text is its own reading. */
function unicodeReading(text: string, lossy = false): string {
  if (!NON_ASCII.test(text)) return text
  const folded = readLookalikes(text).normalize('NFKC')
  return lossy ? readLookalikes(folded) : folded
}

/** A character of a path that folding (unicodeReading) reads as other text, for a message. */
export interface FoldingCharacter {
  /** `U+FF0F`. */
  readonly codePoint: string
  /** What folding makes of it: `/` for U+FF0F, `c/o` for U+2105. */
  readonly reading: string
}

/** The first character of `text` whose Unicode reading (`lossy`: see PathReading) holds one of `chars` (U+FF0E, read as ".", for /\./), for a message; undefined when none. */
export function foldingCharacter(text: string, chars: RegExp, lossy = false): FoldingCharacter | undefined {
  for (const c of text) {
    if (!NON_ASCII.test(c)) continue
    const reading = unicodeReading(c, lossy)
    if (chars.test(reading)) return { codePoint: `U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`, reading }
  }
  return undefined
}

/**
 * A reading to judge and decode on, with `lookalikes`: its text (aligned, unit for unit) with the
 * look-alikes the path holds read as `/` and `\`, and those NFKC wrote left as they are (all read,
 * in a lossy reading). A fold maps look-alikes before NFKC, so every one in a folded text is NFKC's;
 * decoding brings in ones the path holds (`%E2%88%95`): they are told apart through every round.
 */
interface Pending {
  readonly reading: PathReading
  readonly lookalikes: string
}

/**
 * The first problem `judge` finds among the readings of `text`: as sent, then after each of up to
 * three percent-decodings; every reading also folded (unicodeReading) and decoded on from there
 * (NFKC makes `％２ｅ` `%2e`, a `.` one decoding later), and where the fold wrote a slash look-alike,
 * read lossy too (PathReading.lossy). A reading that does not decode (octets that are not UTF-8,
 * a lone `%`) ends its line; `undecodable` says whether that is a problem.
 */
export function firstReadingProblem<T>(text: string, judge: (r: PathReading) => T | undefined, undecodable: (r: PathReading) => T | undefined): T | undefined {
  const seen = new Set<string>()
  let level: Pending[] = [{ reading: { text, depth: 0 }, lookalikes: readLookalikes(text) }]
  for (let depth = 0; level.length > 0; depth++) {
    const next: Pending[] = []
    for (const pending of level) {
      for (const p of withFolded(pending)) {
        const r = p.reading
        const problem = judge(r)
        if (problem !== undefined) return problem
        // A text decoded before (at this depth or above), read alike, was decoded on with as many rounds left or more.
        const key = `${r.lossy ? 'lossy' : ''}\0${r.text}\0${p.lookalikes}`
        if (depth === MAX_DECODE_ROUNDS || !r.text.includes('%') || seen.has(key)) continue
        seen.add(key)
        const decoded = decodeOn(p)
        if (decoded === undefined) {
          const stop = undecodable(r)
          if (stop !== undefined) return stop
        } else if (decoded.reading.text !== r.text) next.push(decoded)
      }
    }
    level = next
  }
  return undefined
}

/** `p`, its folded reading when folding changes it, and the lossy reading of the fold when NFKC wrote a look-alike in it. */
function withFolded(p: Pending): Pending[] {
  const { text, depth, lossy } = p.reading
  if (!NON_ASCII.test(text)) return [p]
  // Every look-alike left after the fold is one NFKC wrote.
  const nfkc = p.lookalikes.normalize('NFKC')
  const folded = lossy ? readLookalikes(nfkc) : nfkc
  const out = folded === text ? [p] : [p, { reading: { text: folded, depth, unfolded: text, ...(lossy ? { lossy } : {}) }, lookalikes: folded }]
  if (lossy || !HAS_LOOKALIKE.test(nfkc)) return out
  const read = readLookalikes(nfkc)
  return [...out, { reading: { text: read, depth, unfolded: text, lossy: true }, lookalikes: read }]
}

const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g

/** `p` percent-decoded once, the look-alikes decoding brings in read as the path's; undefined when it does not decode. */
function decodeOn(p: Pending): Pending | undefined {
  const { text, depth, lossy } = p.reading
  let decoded: string
  try {
    decoded = decodeURIComponent(text)
  } catch {
    return undefined
  }
  // Run by run, as decodeURIComponent went: the text between escapes keeps its own reading of look-alikes.
  let lookalikes = ''
  let at = 0
  for (const m of text.matchAll(PERCENT_RUN)) {
    lookalikes += p.lookalikes.slice(at, m.index) + readLookalikes(decodeURIComponent(m[0]))
    at = m.index + m[0].length
  }
  return { reading: { text: decoded, depth: depth + 1, ...(lossy ? { lossy } : {}) }, lookalikes: lookalikes + p.lookalikes.slice(at) }
}
