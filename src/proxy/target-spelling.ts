/**
 * How a refusal names a target: in the spelling it was matched in, and as the caller sent it.
 * IPv4 addresses are matched in dotted-decimal only: `127.1`, `0x7f.0.0.1`, `2130706433` and
 * `0177.0.0.1` are not `127.0.0.1`. Real clients (curl, Node, Go) write the dotted-decimal form
 * themselves, and the other spellings are where parsers disagree (`0127.0.0.1` is 87.0.0.1 to
 * WHATWG URL and inet_aton, 127.0.0.1 to others): the gateway refuses them rather than pick a
 * reading. This names the reading in the refusal, so the operator sees what was meant.
 */

/** The dotted-decimal address WHATWG URL reads `host` as, when it is an IPv4 address in another spelling; undefined otherwise. */
export function otherIpv4Spelling(host: string): string | undefined {
  // Only asked of a refused host, so the parse costs nothing on a served request.
  try {
    const read = new URL(`http://${host}/`).hostname
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(read) && read !== host ? read : undefined
  } catch {
    return undefined
  }
}

/** What a refusal adds after a host that is an IPv4 address in another spelling (empty otherwise). */
export function ipv4SpellingNote(host: string): string {
  const read = otherIpv4Spelling(host)
  return read === undefined ? '' : ` (${host} is the IPv4 address ${read} in another spelling, as WHATWG URL reads it; IPv4 addresses are matched only in dotted-decimal: send ${read})`
}

/** A CONNECT target as a refusal names it: matched spelling (`authority`), then what the caller sent when that differs. */
export function targetAsSent(authority: string, sent: string): string {
  return sent === authority ? authority : `${authority} (sent as ${sent})`
}
