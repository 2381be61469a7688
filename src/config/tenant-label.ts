/**
 * The one tenant rule of every path that takes a tenant: the proxy (header or
 * `/proxy/<ep>@<tenant>/`), the dance's start, revoke and profile test, the console's links and
 * revokes, and apps' tenant lists and claims. A tenant fills a host name (`{tenant}.api…`), so
 * it is a DNS label, and like a host name it is case-insensitive (RFC 4343): "ACME" and "acme"
 * are one tenant, kept and keyed in lower case.
 */

/** A tenant as it is kept: a lower-case DNS label. */
export const TENANT_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** The end of the sentence that refuses a tenant: "…: the tenant must be …". */
export const TENANT_RULE = 'the tenant must be a DNS label (letters, digits, hyphens; at most 63)'

/**
 * The tenant `given` names, in lower case, or undefined when it is not a DNS label. Only A-Z
 * fold: Unicode case mapping would make "\u212A" (the Kelvin sign) the tenant "k".
 */
export function canonicalTenant(given: string): string | undefined {
  const folded = given.replace(/[A-Z]+/g, (s) => s.toLowerCase())
  return TENANT_LABEL.test(folded) ? folded : undefined
}
