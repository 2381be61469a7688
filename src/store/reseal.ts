/**
 * Ending a seal-key rotation: records sealed under a key that is no longer the active one are
 * sealed again under the active key, so the old key can be removed. Each write replaces only
 * the value that was read (Store.replaceIfUnchanged, the expiry kept): a newer write, a revoke or
 * a one-time take by another worker or replica meanwhile is never undone, and two walks (or a walk
 * and a read's re-seal) racing on one record write it once.
 */
import { outsideRequests } from './request-wait.js'
import { SealError, type Sealer } from './seal.js'
import type { Store } from './store.js'

/** One kind of sealed record: where it lives, and how its seals are read and renewed. */
export interface SealedKind {
  /** What an operator calls it ("users' tokens"). */
  readonly name: string
  /** The store key prefixes its records live under. */
  readonly prefixes: readonly string[]
  /** The key id new seals of this kind use. */
  readonly activeId: string
  /** The key ids the stored text is sealed under; none when nothing in it is under this kind's keys (a record kept in clear). SealError when malformed. */
  keyIds(key: string, text: string): string[]
  /** The text with every seal under `activeId`; undefined when it already is. SealError when a seal does not open. */
  reseal(key: string, text: string): string | undefined
}

/** Values sealed whole under `prefixes`, each with its store key as AAD (caller bearers, their claims); a value in clear (an earlier version's) holds nothing sealed. */
export function sealedValues(name: string, prefixes: readonly string[], sealer: Sealer): SealedKind {
  return {
    name,
    prefixes,
    activeId: sealer.activeId,
    keyIds: (_key, text) => (text.startsWith('{') ? [] : [sealer.keyIdOf(text)]),
    reseal: (key, text) => (text.startsWith('{') || sealer.keyIdOf(text) === sealer.activeId ? undefined : sealer.seal(sealer.open(text, key), key)),
  }
}

/** What a walk found of one kind, by record. */
export interface ResealCount {
  readonly name: string
  readonly activeId: string
  /** Records read (those gone before they could be, expired or taken, are not counted). */
  records: number
  /** Already under the active key, or holding nothing sealed. */
  current: number
  /** Sealed again under the active key by this walk. */
  resealed: number
  /** Still under another key, by key id: a dry run's, or one rewritten under another key each time the walk tried. */
  stale: Record<string, number>
  /** Not opened, by key id: sealed under a key not configured, or damaged. Left as they are (as good as expired). */
  unreadable: Record<string, number>
}

/** A count with nothing in it yet. */
export function emptyCount(name: string, activeId: string): ResealCount {
  return { name, activeId, records: 0, current: 0, resealed: 0, stale: {}, unreadable: {} }
}

/** Adds one record to `count` under key id `id`. */
export function tally(into: Record<string, number>, id: string): void {
  into[id] = (into[id] ?? 0) + 1
}

/**
 * The records a read seals again under the active key (store_records_resealed_total{kind}): a
 * closed set named by the reader, never from a key (which holds user ids and digests).
 */
export const RESEALED_KINDS = ['user_token', 'authorize_link', 'reused_link', 'caller_bearer', 'caller_claims', 'console_session_key'] as const
/** One of RESEALED_KINDS. */
export type ResealedKind = (typeof RESEALED_KINDS)[number]

/** A record changed on every one of these tries is left for the next walk (its writer is busy with it). */
const TRIES = 3

/** Walks every record of each kind and seals it again under its kind's active key (`dryRun`: counts only). */
export async function resealRecords(store: Store, kinds: readonly SealedKind[], dryRun: boolean): Promise<ResealCount[]> {
  const counts: ResealCount[] = []
  for (const kind of kinds) {
    const count = emptyCount(kind.name, kind.activeId)
    for (const prefix of kind.prefixes) {
      for (const key of await store.keys(prefix)) await resealOne(store, kind, key, count, dryRun)
    }
    counts.push(count)
  }
  return counts
}

async function resealOne(store: Store, kind: SealedKind, key: string, count: ResealCount, dryRun: boolean): Promise<void> {
  let stale: string | undefined
  for (let tries = 0; tries < TRIES; tries++) {
    const text = await store.get(key)
    if (text === undefined) return
    if (tries === 0) count.records++
    stale = staleKeyId(kind, key, text)
    if (stale === undefined) return void count.current++
    if (dryRun) break
    let resealed: string | undefined
    try {
      resealed = kind.reseal(key, text)
    } catch (e) {
      if (!(e instanceof SealError)) throw e
      return tally(count.unreadable, stale)
    }
    if (resealed === undefined) return void count.current++
    if (await store.replaceIfUnchanged(key, text, resealed)) return void count.resealed++
  }
  if (stale !== undefined) tally(count.stale, stale)
}

/** The first key id of the record other than the active one; a malformed seal names "(malformed)". */
function staleKeyId(kind: SealedKind, key: string, text: string): string | undefined {
  try {
    return kind.keyIds(key, text).find((id) => id !== kind.activeId)
  } catch (e) {
    if (e instanceof SealError) return '(malformed)'
    throw e
  }
}

/**
 * Writes `replacement` over `expected` at `key` (removes it when undefined) unless the record
 * changed meanwhile, in the background and outside the current request: a read that found a record
 * under a retired key (or past its end) answers without waiting for the write, and a store that
 * fails it costs that request nothing (its one store wait, request-wait.ts); the next read tries again.
 * `onReplaced` is told once the store took the write (not when the record had changed meanwhile).
 */
export function replaceInBackground(store: Store, key: string, expected: string, replacement: string | undefined | (() => Promise<string>), onReplaced?: () => void): void {
  outsideRequests(() => {
    const write = async (): Promise<void> => {
      if (await store.replaceIfUnchanged(key, expected, typeof replacement === 'function' ? await replacement() : replacement)) onReplaced?.()
    }
    write().catch(() => undefined)
  })
}
