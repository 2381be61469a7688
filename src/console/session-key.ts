/**
 * The console's session key, kept in the store every replica shares, so a cookie issued by
 * one replica verifies on any other and survives a restart. Replicas agree through
 * putIfAbsent: whoever writes first wins, and everyone uses what the store then holds.
 * With store.sealKeys the key is sealed at rest (AAD: its store key), one entry per active
 * seal key: a rotation carries the key material over from an older entry it can open, so
 * sessions survive it; material once kept in clear is never carried into a sealed entry.
 */
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { emptyCount, SealError, tally, type ResealCount, type Sealer, type Store } from '../store/index.js'

/** Where the console keeps its shared state: the store, and the sealer of store.sealKeys if any. */
export interface SessionState {
  readonly store: Store
  readonly sealer?: Sealer | undefined
  /** The ids of store.sealKeys, in config order (entries under them may be carried over). */
  readonly sealKeyIds: readonly string[]
  /** The key material was carried over into the active key's entry by this call (store_records_resealed_total{kind="console_session_key"}). */
  readonly onCarried?: (() => void) | undefined
}

const KEY_BYTES = 32
const ENTRY = 'console:session:key'
const PLAIN = 'plain.'

/** The store key of the entry a sealing configuration uses. */
export function sessionKeyEntry(sealKeyId: string | undefined): string {
  return sealKeyId === undefined ? `${ENTRY}:plain` : `${ENTRY}:sealed:${sealKeyId}`
}

/** The shared key (32 bytes), created on first use; store errors (503) pass through. */
export async function sessionKey(state: SessionState): Promise<Buffer> {
  const { store, sealer } = state
  const entry = sessionKeyEntry(sealer?.activeId)
  const stored = await store.get(entry)
  if (stored !== undefined) return decode(stored, entry, sealer)
  const carried = sealer && (await carriedOver(state, sealer))
  // Counted by the one replica (or worker) whose write the store took: once per rotation.
  if ((await store.putIfAbsent(entry, encode(carried ?? randomBytes(KEY_BYTES), entry, sealer))) && carried) state.onCarried?.()
  const agreed = await store.get(entry)
  if (agreed === undefined) throw new GatewayError('store_unavailable', `the store did not keep the console's session key (${entry})`)
  return decode(agreed, entry, sealer)
}

/** The material of an entry under another configured seal key, when one exists and opens. */
async function carriedOver(state: SessionState, sealer: Sealer): Promise<Buffer | undefined> {
  for (const id of state.sealKeyIds) {
    if (id === sealer.activeId) continue
    const entry = sessionKeyEntry(id)
    const stored = await state.store.get(entry)
    if (stored === undefined) continue
    try {
      return decode(stored, entry, sealer)
    } catch {
      // Unreadable: another entry may do, else a fresh key.
    }
  }
  return undefined
}

/**
 * After store.activeKey changed: the key carried over into the active key's entry, and the entries
 * under other keys that open removed (a replica still sealing under one of them carries the key over
 * again from the active entry, which it can open: rotations add the key everywhere first). `dryRun`:
 * counts only. Entries that do not open are left and counted. Undefined without seal keys (the key
 * is then kept in clear).
 */
export async function resealSessionKey(state: SessionState, dryRun: boolean): Promise<ResealCount | undefined> {
  const { store, sealer } = state
  if (sealer === undefined) return undefined
  const count = emptyCount("the console's session key", sealer.activeId)
  const prefix = sessionKeyEntry('')
  const others: { entry: string; id: string; stored: string }[] = []
  for (const entry of await store.keys(prefix)) {
    const [id, stored] = [entry.slice(prefix.length), await store.get(entry)]
    if (stored === undefined) continue
    count.records++
    if (id === sealer.activeId) count.current++
    else if (!opens(stored, entry, sealer)) tally(count.unreadable, id)
    else others.push({ entry, id, stored })
  }
  if (others.length > 0 && !dryRun) await sessionKey(state)
  for (const { entry, id, stored } of others) {
    if (!dryRun && (await store.replaceIfUnchanged(entry, stored, undefined))) count.resealed++
    else tally(count.stale, id)
  }
  return count
}

function opens(stored: string, entry: string, sealer: Sealer): boolean {
  try {
    return decode(stored, entry, sealer).length === KEY_BYTES
  } catch {
    return false
  }
}

function encode(material: Buffer, entry: string, sealer: Sealer | undefined): string {
  const text = material.toString('base64url')
  return sealer ? sealer.seal(text, entry) : PLAIN + text
}

function decode(stored: string, entry: string, sealer: Sealer | undefined): Buffer {
  let text: string
  if (sealer) {
    try {
      text = sealer.open(stored, entry)
    } catch (e) {
      if (!(e instanceof SealError)) throw e
      throw new GatewayError('internal', `the console's session key in the store (${entry}) cannot be opened with store.sealKeys (${e.code}): was it altered, or the key's material changed under the same id?`, { cause: e })
    }
  } else {
    if (!stored.startsWith(PLAIN)) throw new GatewayError('internal', `the console's session key in the store (${entry}) is not in the expected form`)
    text = stored.slice(PLAIN.length)
  }
  const material = Buffer.from(text, 'base64url')
  if (material.length !== KEY_BYTES) throw new GatewayError('internal', `the console's session key in the store (${entry}) is not ${KEY_BYTES} bytes`)
  return material
}
