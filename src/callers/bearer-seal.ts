/**
 * How bearer records are sealed at rest, and renewed after a seal-key rotation. A record is sealed
 * under store.sealKeys when configured, else under a key derived from the bearer itself (which only
 * its holder has); a JWE caller's claims beside it under the claims sealer. A record read under a
 * configured key that is no longer the active one is sealed again under the active one.
 */
import { createHash, hkdfSync } from 'node:crypto'
import { createSealer, replaceInBackground, sealedValues, type SealedKind, type Sealer as StoreSealer, type Store } from '../store/index.js'

/** Encrypts records at rest: structurally src/store/seal.ts's Sealer; `aad` binds a record to its key. */
export interface Sealer {
  seal(plain: string, aad?: string): string | Promise<string>
  open(sealed: string, aad?: string): string | Promise<string>
  /** The key new seals use and the key a sealed value names (store.sealKeys' sealers): without them nothing is sealed again. */
  readonly activeId?: string
  keyIdOf?(sealed: string): string
}

export const BEARER_PREFIX = 'bearer:'
export const CLAIMS_PREFIX = 'bearer-claims:'

/** The configured sealer, else one under a key derived (HKDF) from the bearer's 32 bytes (at least 192 of their bits random). */
export function recordSealer(token: string, sealer: Sealer | undefined): Sealer {
  if (sealer !== undefined) return sealer
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(token, 'base64url'), 'mtls-gateway', 'bearer-record-v1', 32))
  return createSealer([{ id: 'bearer', key }], 'bearer')
}

/** The plaintext of `sealed` at `key` (its AAD); sealed again under the active key in the background when under another (`onResealed` told once it is). */
export async function openRenewing(store: Store, sealer: Sealer, key: string, sealed: string, onResealed?: () => void): Promise<string> {
  const plain = await sealer.open(sealed, key)
  const { activeId } = sealer
  if (activeId !== undefined && sealer.keyIdOf !== undefined && sealer.keyIdOf(sealed) !== activeId) {
    replaceInBackground(store, key, sealed, async () => sealer.seal(plain, key), onResealed)
  }
  return plain
}

/** Caller bearers sealed under store.sealKeys and JWE claims under the claims sealer: what a re-seal walk renews (a bearer sealed under its own key has nothing to renew). */
export function sealedBearerRecords(sealers: { records?: StoreSealer | undefined; claims?: StoreSealer | undefined }): SealedKind[] {
  return [
    ...(sealers.records ? [sealedValues('caller bearers', [BEARER_PREFIX], sealers.records)] : []),
    ...(sealers.claims ? [sealedValues("JWE callers' decrypted claims", [CLAIMS_PREFIX], sealers.claims)] : []),
  ]
}

/** The hex SHA-256 of a bearer: its records' store keys hold this, never the bearer. */
export function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}
