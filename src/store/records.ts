/**
 * JSON records in a Store with chosen fields sealed. Each sealed field's AAD is the
 * store key plus the field name, so a sealed value copied to another record, another
 * key or another field fails to open instead of leaking into the wrong user's data.
 */
import type { Sealer } from './seal.js'
import type { Store } from './store.js'

/** Names of the fields of T that are sealed at rest. */
export type SecretFields<T> = readonly (keyof T & string)[]

function fieldAad(key: string, field: string): string {
  // JSON, not concatenation: no (key, field) pair can spell another pair's AAD.
  return JSON.stringify([key, field])
}

/** The stored text of `value` with `secretFields` sealed (each field's JSON value). */
export function sealRecord<T extends object>(sealer: Sealer, key: string, value: T, secretFields: SecretFields<T>): string {
  if (Array.isArray(value)) throw new TypeError('sealRecord: a record is a JSON object, not an array')
  const out: Record<string, unknown> = Object.assign({}, value as Record<string, unknown>)
  for (const field of secretFields) {
    const plain = out[field]
    if (plain === undefined) continue
    out[field] = sealer.seal(JSON.stringify(plain), fieldAad(key, field))
  }
  return JSON.stringify(out)
}

/**
 * The record with its sealed fields opened. The shape is the caller's: sealed fields are
 * authenticated, the rest is trusted as the store's own data.
 */
export function openRecord<T extends object>(sealer: Sealer, key: string, text: string, secretFields: SecretFields<T>): T {
  const parsed: unknown = JSON.parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError(`stored record "${key}" is not a JSON object`)
  }
  const out = parsed as Record<string, unknown>
  for (const field of secretFields) {
    const sealed = out[field]
    if (sealed === undefined) continue
    // A plaintext value where a sealed one belongs is refused, never passed through.
    if (typeof sealed !== 'string') throw new TypeError(`stored record "${key}": field "${field}" is not sealed`)
    out[field] = JSON.parse(sealer.open(sealed, fieldAad(key, field)))
  }
  return out as T
}

/** Writes a record (replacing any), secrets sealed; `ttlMs` undefined = no expiry. */
export async function putRecord<T extends object>(
  store: Store,
  sealer: Sealer,
  key: string,
  value: T,
  secretFields: SecretFields<T>,
  ttlMs?: number,
): Promise<void> {
  await store.put(key, sealRecord(sealer, key, value, secretFields), ttlMs)
}

/** Writes a record only if the key holds no live value; true when this call wrote it. */
export async function putRecordIfAbsent<T extends object>(
  store: Store,
  sealer: Sealer,
  key: string,
  value: T,
  secretFields: SecretFields<T>,
  ttlMs?: number,
): Promise<boolean> {
  return store.putIfAbsent(key, sealRecord(sealer, key, value, secretFields), ttlMs)
}

/** Reads a record and opens its secrets; undefined when absent or expired. */
export async function getRecord<T extends object>(
  store: Store,
  sealer: Sealer,
  key: string,
  secretFields: SecretFields<T>,
): Promise<T | undefined> {
  const text = await store.get(key)
  return text === undefined ? undefined : openRecord(sealer, key, text, secretFields)
}

/** Reads and removes a record in one step (one-shot request tokens). */
export async function takeRecord<T extends object>(
  store: Store,
  sealer: Sealer,
  key: string,
  secretFields: SecretFields<T>,
): Promise<T | undefined> {
  const text = await store.take(key)
  return text === undefined ? undefined : openRecord(sealer, key, text, secretFields)
}
