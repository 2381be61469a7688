/**
 * The header-value rule, shared by everything that puts a configured or rendered value into a
 * header (authorization fields, at load for their fixed text and per request for each rendered
 * value): the value must be one the wire carries as-is and every reader reads the same. Visible
 * ASCII, with SP and HTAB inside only. A character of U+0080–U+00FF goes out as its one Latin-1
 * octet, which a UTF-8 reader reads as other text (`é` as the invalid E9, `Ã©` as C3 A9, that is
 * `é`: two users one), and above U+00FF there is no octet at all; SP/HTAB at either end is not
 * part of the value (RFC 9110 §5.5), so every backend would read it trimmed.
 */

// Visible ASCII, SP and HTAB: the same octets in every reading (ASCII, Latin-1, UTF-8).
const CARRIED_AS_IS = /^[\t\x20-\x7e]*$/
const EDGE_WHITESPACE = /^[\t ]|[\t ]$/

/** Why a header cannot carry a text: a character outside visible ASCII, space and tab. */
export const HEADER_VALUE_CHARACTER = 'has a character a header cannot carry as-is: only visible ASCII, space and tab may be sent (not a control character such as CR, LF or NUL, nor any non-ASCII character, which would reach the backend as other bytes or be read as other text)'
/** Why a header cannot carry a text: space or tab at either end. */
export const HEADER_VALUE_EDGE_WHITESPACE = 'starts or ends with a space or tab, which is not part of a header value (RFC 9110 §5.5): a backend would read another value'

/** Why `value` cannot be sent as a header value as-is, or undefined. Never quotes the value (it may be a secret). */
export function headerValueProblem(value: string): string | undefined {
  if (!CARRIED_AS_IS.test(value)) return HEADER_VALUE_CHARACTER
  return EDGE_WHITESPACE.test(value) ? HEADER_VALUE_EDGE_WHITESPACE : undefined
}

/** A piece of a header value fixed at load (undefined: filled per request, unknown until then). */
export type FixedPiece = string | undefined

/**
 * Why every value a template of `pieces` renders to breaks the rule, or undefined: a fixed piece
 * with a character no header carries, or a fixed piece at the start (end) that starts (ends)
 * with SP/HTAB. Empty fixed pieces are skipped, as they add nothing to the value's edges.
 */
export function fixedHeaderTextProblem(pieces: readonly FixedPiece[]): string | undefined {
  const kept = pieces.filter((p) => p !== '')
  for (const p of kept) if (p !== undefined && !CARRIED_AS_IS.test(p)) return HEADER_VALUE_CHARACTER
  const first = kept[0]
  const last = kept.at(-1)
  if ((first !== undefined && /^[\t ]/.test(first)) || (last !== undefined && /[\t ]$/.test(last))) return HEADER_VALUE_EDGE_WHITESPACE
  return undefined
}
