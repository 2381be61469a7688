/**
 * A caller's Forwarded (RFC 7239), with forwarding.xForwardedFor on, keeps only what the option
 * is about: client addresses. Its `host` and `proto` name an origin, and a backend trusting the
 * gateway as its proxy (Symfony, Spring's ForwardedHeaderFilter, Rack) builds the request's URL
 * from them: a tenant or host the gateway did not match. So only `for` and `by` pairs whose value
 * is a node (§6: an IP, `unknown`, an obfuscated name, with a port) travel, rebuilt; a header that
 * does not parse goes whole, since Spring's pattern finds `host=` even inside a quoted string.
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const QUOTED = /^"((?:[^"\\]|\\[\t\x20-\x7e\x80-\xff])*)"$/
// §6: nodename = IPv4 / "[" IPv6 "]" / "unknown" / obfnode, then an optional port or obfport.
const NODE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|unknown|_[A-Za-z0-9._-]+)(?::(?:[0-9]{1,5}|_[A-Za-z0-9._-]+))?$/i
const KEPT = new Set(['for', 'by'])

/** Splits `text` at `sep` outside quoted strings; undefined when a quoted string is left open. */
function splitOutsideQuotes(text: string, sep: string): string[] | undefined {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (!quoted && c === sep) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  if (quoted) return undefined
  parts.push(text.slice(start))
  return parts
}

/** One `name=value` pair as [lower-case name, unquoted value]; undefined when it is not one. */
function pairOf(text: string): [string, string] | undefined {
  const trimmed = text.trim()
  const eq = trimmed.indexOf('=')
  const name = trimmed.slice(0, eq)
  const raw = trimmed.slice(eq + 1)
  if (eq < 1 || !TOKEN.test(name)) return undefined
  if (TOKEN.test(raw)) return [name.toLowerCase(), raw]
  const q = QUOTED.exec(raw)
  return q ? [name.toLowerCase(), (q[1] as string).replace(/\\(.)/g, '$1')] : undefined
}

/**
 * The caller's Forwarded with only `for`/`by` node pairs, element by element (an element left
 * empty goes), or undefined when nothing is left or the header does not parse.
 */
export function clientAddressesOnly(value: string | string[]): string | undefined {
  const elements = splitOutsideQuotes(Array.isArray(value) ? value.join(',') : value, ',')
  if (elements === undefined) return undefined
  const kept: string[] = []
  for (const element of elements) {
    if (element.trim() === '') continue // RFC 9110 §5.6.1: empty list elements do not count
    const pairs = splitOutsideQuotes(element, ';') as string[]
    const out: string[] = []
    for (const text of pairs) {
      const pair = pairOf(text)
      if (pair === undefined) return undefined
      const [name, node] = pair
      // A node with ":" or "[" is not a token: quoted, as §6 asks.
      if (KEPT.has(name) && NODE.test(node)) out.push(TOKEN.test(node) ? `${name}=${node}` : `${name}="${node}"`)
    }
    if (out.length > 0) kept.push(out.join(';'))
  }
  return kept.length > 0 ? kept.join(', ') : undefined
}
