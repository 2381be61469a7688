/**
 * The sealers of one config snapshot. `records` seals what the store keeps for users
 * (bearers, OAuth tokens, dance state) under store.sealKeys. `claims` seals decrypted JWE
 * claims: under store.sealKeys when configured, else under keys derived (HKDF) from the
 * gateway's JWE decryption keys, which every worker and replica holds already — claims are
 * then protected by the same secret that protected them in the assertion.
 */
import { createHash, hkdfSync } from 'node:crypto'
import type { GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import type { GatewayKeys } from '../callers/index.js'
import { createSealer, parseSealKey, type Sealer } from '../store/index.js'

export interface Sealers {
  readonly records?: Sealer
  readonly claims?: Sealer
}

/** Builds the snapshot's sealers; ConfigError for bad seal keys or per-user tokens without them. */
export function compileSealers(config: GatewayConfig, jweKeys: GatewayKeys): Sealers {
  const records = configuredSealer(config)
  if (!records && config.profiles.some((p) => p.token.mode === 'per_user')) {
    throw new ConfigError([{ file: config.file, line: 0, column: 0, key: 'store.sealKeys', msg: 'is required when per-user OAuth tokens are stored (token secrets are encrypted at rest)' }])
  }
  const claims = records ?? derivedSealer(jweKeys)
  // Built once at start-up (not per request).
  return { ...(records ? { records } : {}), ...(claims ? { claims } : {}) }
}

function configuredSealer(config: GatewayConfig): Sealer | undefined {
  const keys = config.store.sealKeys
  if (keys.length === 0) return undefined
  try {
    const parsed = keys.map((k) => ({ id: k.id, key: parseSealKey(k.key) }))
    return createSealer(parsed, config.store.activeKey ?? (keys[keys.length - 1] as { id: string }).id)
  } catch (e) {
    throw new ConfigError([{ file: config.file, line: 0, column: 0, key: 'store.sealKeys', msg: (e as Error).message }])
  }
}

function derivedSealer(jweKeys: GatewayKeys): Sealer | undefined {
  const derived = [...jweKeys.values()].map((k) => {
    const der = k.privateKey.export({ format: 'der', type: 'pkcs8' })
    const key = Buffer.from(hkdfSync('sha256', der, 'mtls-gateway', 'decrypted-claims-v1', 32))
    // Seal key ids are a restricted alphabet; a kid is free text.
    return { id: `jwe-${createHash('sha256').update(k.kid).digest('hex').slice(0, 16)}`, key }
  })
  const last = derived[derived.length - 1]
  return last ? createSealer(derived, last.id) : undefined
}
