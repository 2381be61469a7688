/**
 * JSON records in a Store with chosen fields sealed. Each sealed field's AAD is the
 * store key plus the field name, so a sealed value copied to another record, another
 * key or another field fails to open instead of leaking into the wrong user's data.
 */
import { unlessSealError, type Sealer } from './seal.js'
import { replaceInBackground, type SealedKind } from './reseal.js'
import type { Store } from './store.js'

/**
 * A sealed field whose seal not opening leaves it out of the record (read as if the record had
 * none) instead of failing the read: a binding an earlier release, which did not know it, copied
 * to another key (a token moved) or left under a key since removed. Whoever reads it decides what
 * a record without it is worth.
 */
export interface OptionalSeal<N extends string> {
  readonly optional: N
}

/** The fields of T that are sealed at rest: by name, or as an OptionalSeal. */
export type SecretFields<T> = readonly ((keyof T & string) | OptionalSeal<keyof T & string>)[]

const nameOf = (field: string | OptionalSeal<string>): string => (typeof field === 'string' ? field : field.optional)

function fieldAad(key: string, field: string): string {
  // JSON, not concatenation: no (key, field) pair can spell another pair's AAD.
  return JSON.stringify([key, field])
}

/** The stored text of `value` with `secretFields` sealed (each field's JSON value). */
export function sealRecord<T extends object>(sealer: Sealer, key: string, value: T, secretFields: SecretFields<T>): string {
  if (Array.isArray(value)) throw new TypeError('sealRecord: a record is a JSON object, not an array')
  const out: Record<string, unknown> = Object.assign({}, value as Record<string, unknown>)
  for (const field of secretFields.map(nameOf)) {
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
  return openFields<T>(sealer, key, text, secretFields).record
}

/**
 * `text` with every sealed field under the sealer's active key; undefined when each already is
 * (nothing to write). A SealError when one does not open.
 */
export function resealRecord<T extends object>(sealer: Sealer, key: string, text: string, secretFields: SecretFields<T>): string | undefined {
  return openFields<T>(sealer, key, text, secretFields).resealed
}

/** The key ids the record's sealed fields name (a field that is not a sealed value names none; a malformed one throws SealError). */
export function recordSealKeyIds<T extends object>(sealer: Sealer, key: string, text: string, secretFields: SecretFields<T>): string[] {
  const fields = parseObject(text, key)
  return secretFields.flatMap((f) => {
    const sealed = fields[nameOf(f)]
    if (typeof sealed !== 'string') return []
    // A malformed optional seal names no key: the record reads without it.
    const id = typeof f === 'string' ? sealer.keyIdOf(sealed) : unlessSealError(() => sealer.keyIdOf(sealed))
    return id === undefined ? [] : [id]
  })
}

/** Opens the sealed fields once, and seals again under the active key those sealed under another. */
function openFields<T extends object>(sealer: Sealer, key: string, text: string, secretFields: SecretFields<T>): { record: T; resealed: string | undefined } {
  const out = parseObject(text, key)
  const renewed: Record<string, unknown> = Object.assign({}, out)
  let stale = false
  for (const secret of secretFields) {
    const field = nameOf(secret)
    const sealed = out[field]
    if (sealed === undefined) continue
    const plain = typeof secret === 'string' ? openField(sealer, key, field, sealed) : typeof sealed === 'string' ? unlessSealError(() => sealer.open(sealed, fieldAad(key, field))) : undefined
    if (plain === undefined) {
      // An optional seal that does not open: left out, and out of the record written again (a re-seal walk then no longer finds its key id).
      delete out[field]
      delete renewed[field]
      stale = stale || typeof sealed !== 'string' || unlessSealError(() => sealer.keyIdOf(sealed)) !== sealer.activeId
      continue
    }
    out[field] = JSON.parse(plain)
    // Opened, so a sealed value (a string).
    if (sealer.keyIdOf(sealed as string) === sealer.activeId) continue
    renewed[field] = sealer.seal(plain, fieldAad(key, field))
    stale = true
  }
  return { record: out as T, resealed: stale ? JSON.stringify(renewed) : undefined }
}

/** The field's plaintext; a TypeError when it is not a sealed value, a SealError when it does not open. */
function openField(sealer: Sealer, key: string, field: string, sealed: unknown): string {
  // A plaintext value where a sealed one belongs is refused, never passed through.
  if (typeof sealed !== 'string') throw new TypeError(`stored record "${key}": field "${field}" is not sealed`)
  return sealer.open(sealed, fieldAad(key, field))
}

function parseObject(text: string, key: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError(`stored record "${key}" is not a JSON object`)
  }
  return parsed as Record<string, unknown>
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

/**
 * Reads a record and opens its secrets; undefined when absent or expired, or when `endOf` (what
 * the record itself says of its life, ms since the epoch) is past: it is then removed, only if
 * unchanged. A record with a field sealed under another key than the active one is written again
 * under it (only while the store still holds what was read, keeping its expiry; `onResealed` told
 * once it is). Both writes go in the background: a store that fails one costs the read nothing,
 * and the next read tries again.
 */
export async function getRecord<T extends object>(
  store: Store,
  sealer: Sealer,
  key: string,
  secretFields: SecretFields<T>,
  endOf?: (record: T) => number | undefined,
  onResealed?: () => void,
): Promise<T | undefined> {
  const text = await store.get(key)
  if (text === undefined) return undefined
  const { record, resealed } = openFields<T>(sealer, key, text, secretFields)
  if ((endOf?.(record) ?? Infinity) <= Date.now()) return void replaceInBackground(store, key, text, undefined)
  // Sealed under a key no longer active: sealed again under the active one, so a rotation ends.
  if (resealed !== undefined) replaceInBackground(store, key, text, resealed, onResealed)
  return record
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

/** Records of this module's shape under `prefixes`, `secretFields` sealed by `sealer`, as a re-seal walk reads them. */
export function sealedRecords<T extends object>(name: string, prefixes: readonly string[], sealer: Sealer, secretFields: SecretFields<T>): SealedKind {
  return {
    name,
    prefixes,
    activeId: sealer.activeId,
    keyIds: (key, text) => recordSealKeyIds(sealer, key, text, secretFields),
    reseal: (key, text) => resealRecord(sealer, key, text, secretFields),
  }
}
