/**
 * The Connection header read as RFC 9110 writes it: `Connection = #connection-option`, each option a
 * token (§7.6.1), the list by §5.6.1's #rule, the same on requests and answers (hop-by-hop.ts).
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const OWS = /^[ \t]+|[ \t]+$/g

/**
 * The options a Connection header lists, lower-cased: elements split at every comma, spaces and
 * tabs (OWS) trimmed around each, empty elements skipped. An element that is not a token (a quoted
 * string, two words, any other character) names no header. A comma inside quotes splits too: an
 * option is a token, so quotes here are malformed, and Go's ReverseProxy and Envoy split so.
 */
export function connectionOptions(value: string | readonly string[]): string[] {
  const options: string[] = []
  for (const element of (typeof value === 'string' ? value : value.join(',')).split(',')) {
    const option = element.replace(OWS, '')
    if (TOKEN.test(option)) options.push(option.toLowerCase())
  }
  return options
}
