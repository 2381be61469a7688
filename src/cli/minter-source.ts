/**
 * The interception minter for the current config: built on first CONNECT and rebuilt
 * when a reload brings a different CA, so rotating the CA needs no restart.
 */
import { readFileSync } from 'node:fs'
import type { InterceptionConfig } from '../config/index.js'
import { createMinter, type Minter } from '../tls/index.js'
import type { GatewayRef } from '../proxy/listener.js'

/** Returns a function giving the minter of `ref.current`'s interception CA (undefined when none). */
export function createMinterSource(ref: GatewayRef, onMint?: (host: string, ms: number) => void): () => Promise<Minter | undefined> {
  let built: { config: InterceptionConfig; minter: Promise<Minter> } | undefined
  return async () => {
    const config = ref.current.config.interception
    if (!config) return undefined
    if (built?.config !== config) {
      built = {
        config,
        minter: createMinter({
          caCertPem: readFileSync(config.caCert, 'utf8'),
          caKeyPem: readFileSync(config.caKey, 'utf8'),
          ...(config.caKeyPassphrase !== undefined ? { caKeyPassphrase: config.caKeyPassphrase } : {}),
          validityMs: config.leafValidityMs,
          cacheSize: config.cacheSize,
          ...(onMint ? { onMint } : {}),
        }),
      }
    }
    return built.minter
  }
}
