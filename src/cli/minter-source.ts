/**
 * The interception minter of a snapshot: built from the CA the snapshot read and checked
 * (never from the files as they are now), so a refused reload keeps minting with the old CA
 * and an accepted one with the new, whatever CONNECTs came before, in every worker.
 */
import type { Gateway } from '../gateway/index.js'
import { createMinter, type InterceptionCa, type Minter } from '../tls/index.js'
import type { GatewayRef } from '../proxy/listener.js'

interface Built {
  ca: InterceptionCa
  validityMs: number
  cacheSize: number
  minter: Promise<Minter>
}

/** Same CA bytes and leaf settings: the leaf cache survives a reload that changed neither. */
function sameMinter(b: Built, ca: InterceptionCa, validityMs: number, cacheSize: number): boolean {
  return b.ca === ca || (b.ca.certPem === ca.certPem && b.ca.key.equals(ca.key) && b.validityMs === validityMs && b.cacheSize === cacheSize)
}

/** Returns a function giving the minter of a snapshot's interception CA (undefined when none); `ref.current` by default. */
export function createMinterSource(ref: GatewayRef, onMint?: (host: string, ms: number) => void): (gateway?: Gateway) => Promise<Minter | undefined> {
  let built: Built | undefined
  return async (gateway = ref.current) => {
    const config = gateway.config.interception
    const ca = gateway.interception
    if (!config || !ca) return undefined
    if (!built || !sameMinter(built, ca, config.leafValidityMs, config.cacheSize)) {
      const minter = createMinter({ ca, validityMs: config.leafValidityMs, cacheSize: config.cacheSize, ...(onMint ? { onMint } : {}) })
      const next: Built = { ca, validityMs: config.leafValidityMs, cacheSize: config.cacheSize, minter }
      // A failed build is not kept: the next CONNECT tries again rather than inheriting it.
      minter.catch(() => {
        if (built === next) built = undefined
      })
      built = next
    }
    return built.minter
  }
}
