/**
 * The Redis key layout. A logical store key is `kind:sub:id[:rest…]` (`oauth1:token:<user>:…`,
 * `oauth1:request:<digest>`, `jti:<app>:<jti>`). Standalone and Sentinel keep it as
 * `<prefix><key>`. Cluster wraps the key's group — its first three `:`-separated segments
 * (the whole key when shorter) — in a hash tag, `<prefix>{<group>}<rest>`, so everything one
 * user or one request owns hashes to one slot (ready for multi-key operations on it).
 */

/** How logical keys map to Redis keys and back, and how a key prefix becomes a SCAN pattern. */
export interface KeyLayout {
  toRedis(key: string): string
  fromRedis(redisKey: string): string
  /** SCAN MATCH pattern matching every Redis key whose logical key starts with `prefix` (maybe a few more). */
  pattern(prefix: string): string
}

const GROUP_SEGMENTS = 3

/** Index of the colon that ends the group, or -1 when the key has no more than the group. */
function groupEnd(key: string): number {
  let at = -1
  for (let i = 0; i < GROUP_SEGMENTS; i++) {
    at = key.indexOf(':', at + 1)
    if (at < 0) return -1
  }
  return at
}

/** Escapes Redis glob metacharacters so text matches literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, '\\$&')
}

/** `<prefix><key>`: the layout of standalone and Sentinel deployments. */
export function flatLayout(keyPrefix: string): KeyLayout {
  return {
    toRedis: (key) => keyPrefix + key,
    fromRedis: (redisKey) => redisKey.slice(keyPrefix.length),
    pattern: (prefix) => escapeGlob(keyPrefix + prefix) + '*',
  }
}

/** `<prefix>{<group>}<rest>`: the Cluster layout (the prefix must hold no braces). */
export function hashTagLayout(keyPrefix: string): KeyLayout {
  if (/[{}]/.test(keyPrefix)) throw new TypeError('redis store: keyPrefix must not contain "{" or "}" in cluster mode (it would move the hash tag)')
  const head = keyPrefix + '{'
  const toRedis = (key: string): string => {
    const end = groupEnd(key)
    return end < 0 ? `${head}${key}}` : `${head}${key.slice(0, end)}}${key.slice(end)}`
  }
  return {
    toRedis,
    fromRedis(redisKey) {
      // The inserted "}" sits just before the group's closing colon, or last when there is none.
      const inner = redisKey.slice(head.length)
      const end = groupEnd(inner)
      return end < 0 ? inner.slice(0, -1) : inner.slice(0, end - 1) + inner.slice(end)
    },
    // A prefix inside the group is a prefix of the braced group; a longer one includes the "}".
    pattern: (prefix) => escapeGlob(groupEnd(prefix) < 0 ? head + prefix : toRedis(prefix)) + '*',
  }
}
