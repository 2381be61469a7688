/**
 * Transfer codings (RFC 9112 §6.1, §7). The gateway decodes chunked only, on both sides (Node's
 * parser the caller's, undici the backend's), and drops Transfer-Encoding as hop-by-hop. Any
 * other coding a message names would vanish with that field while its bytes stayed in the body,
 * so the next recipient would read gzip (or any coding's) bytes as the body itself.
 */

/** Longest field value quoted back in a message (the field is the sender's text). */
const QUOTED_MAX = 100

/**
 * The Transfer-Encoding value as sent, when it is anything but the chunked coding once (another
 * coding beside it, or chunked twice); undefined when there is none or it is plain chunked.
 */
export function unreadTransferCoding(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(', ') : String(value)
  // RFC 9110 §5.6.1: empty list elements are ignored.
  const codings = text.split(',').map((c) => c.trim()).filter((c) => c !== '')
  if (codings.length === 1 && codings[0]?.toLowerCase() === 'chunked') return undefined
  const trimmed = text.trim()
  return trimmed.length > QUOTED_MAX ? `${trimmed.slice(0, QUOTED_MAX)}…` : trimmed
}
