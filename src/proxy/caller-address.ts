/**
 * The caller's address, as the gateway names it everywhere: the access log, `X-Forwarded-For`,
 * refusals that name it, the capped-line summaries and the console's lines. An IPv4 caller of a
 * listener bound dual-stack (`::`) is `::ffff:a.b.c.d` to Node; it is named by the IPv4 address it
 * is, as on `0.0.0.0`, so one caller has one spelling whichever host the listener binds. Every
 * other address is the kernel's (an IPv6 caller, `::1`, stays as it is). The one reader of a
 * caller socket's `remoteAddress` (test/proxy/caller-address-readers.test.ts).
 */

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i

/** `address` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) written as its IPv4 address. */
export function unmappedAddress(address: string): string {
  // Cheap test first: this runs per request, and most addresses are plain IPv4 or IPv6.
  if (address.length < 14 || address.charCodeAt(0) !== 58 || address.charCodeAt(1) !== 58) return address
  return MAPPED_IPV4.exec(address)?.[1] ?? address
}

/** The address of the caller at the other end of `socket`, as the gateway names it (undefined once Node has none). */
export function callerAddress(socket: { readonly remoteAddress?: string | undefined }): string | undefined {
  const address = socket.remoteAddress
  return address === undefined ? undefined : unmappedAddress(address)
}
