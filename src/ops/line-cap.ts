/**
 * A bounded budget for log lines an unauthenticated client can cause at will (a failed TLS
 * handshake, a malformed request, a refused CONNECT, a slow client timed out): per key (listener,
 * kind and reason), at most `burst` lines in any `logging.callerFaults.interval`; the rest are
 * counted, and an interval after the first one held back, one summary says how many. Metrics count every event regardless: only lines are capped. Each process (each
 * worker) has its own budget. The core is pure (time passed in) so it can be tested with fake time.
 */

import { timerDelay } from './timer-delay.js'

/** The cap in force (the current snapshot's `logging.callerFaults`). */
export interface LineCapSettings {
  /** Lines let through per key and window. */
  burst: number
  /** Window length in ms; 0: no cap. */
  intervalMs: number
}

/** Lines a window held back, said once it has ended. */
export interface SuppressedLines {
  key: string
  suppressed: number
  /**
   * Lines held back per client address, for the first MAX_NAMED_CLIENTS addresses seen in the
   * window: one hostile client using up the budget cannot hide that others failed the same way.
   */
  clients: Record<string, number>
  /** Lines held back from addresses beyond those named (or with no address). */
  otherClientLines: number
  /** The window's length in ms (what "the last T s" says). */
  intervalMs: number
}

interface KeyState {
  /** When the lines let through in the last interval were written, oldest first (at most `burst`). */
  logged: number[]
  suppressed: number
  /** When the summary of the lines suppressed since the last one is due (the first one's time + interval). */
  summaryAt: number
  intervalMs: number
  /** Held-back lines per client address (at most MAX_NAMED_CLIENTS addresses). */
  clients: Map<string, number>
  otherClientLines: number
}

/** Client addresses a summary names; a bound, so a client with many addresses cannot grow the memory. */
export const MAX_NAMED_CLIENTS = 8

/** The pure counting core: no timers, no clock of its own. */
export interface LineCap {
  /** True when the line for `key` at `now` may be written (never more than `burst` in any `intervalMs`); false: counted. */
  take(key: string, now: number, settings: LineCapSettings, client?: string): boolean
  /** The summaries due by `now` (each said once); keys with nothing left to say are forgotten. */
  due(now: number): SuppressedLines[]
  /** When the earliest summary is due, or undefined. */
  nextDue(): number | undefined
}

/**
 * Creates an empty cap: a sliding log per key of the last `burst` lines' times, so no span of
 * `intervalMs` holds more than `burst` lines. Keys are a closed set (listener × kind × reason) and
 * `burst` is bounded by the schema, so the memory is too.
 */
export function createLineCap(): LineCap {
  const keys = new Map<string, KeyState>()
  return {
    take(key, now, s, client) {
      if (s.intervalMs <= 0) return true
      let k = keys.get(key)
      if (k === undefined) {
        k = { logged: [], suppressed: 0, summaryAt: 0, intervalMs: s.intervalMs, clients: new Map(), otherClientLines: 0 }
        keys.set(key, k)
      }
      while (k.logged.length > 0 && (k.logged[0] as number) <= now - s.intervalMs) k.logged.shift()
      if (k.logged.length < s.burst) {
        k.logged.push(now)
        return true
      }
      // The first suppressed line starts the period its summary covers: all of them fall in its last interval.
      if (k.suppressed++ === 0) {
        k.summaryAt = now + s.intervalMs
        k.intervalMs = s.intervalMs
      }
      countClient(k, client)
      return false
    },
    due(now) {
      const out: SuppressedLines[] = []
      for (const [key, k] of keys) {
        if (k.suppressed > 0 && now >= k.summaryAt) {
          out.push(summaryOf(key, k))
        }
        if (k.suppressed === 0 && (k.logged.length === 0 || (k.logged.at(-1) as number) <= now - k.intervalMs)) keys.delete(key)
      }
      return out
    },
    nextDue() {
      let next: number | undefined
      for (const k of keys.values()) if (k.suppressed > 0 && (next === undefined || k.summaryAt < next)) next = k.summaryAt
      return next
    },
  }
}

/** The summary of `k`'s held-back lines; `k` starts counting afresh. */
function summaryOf(key: string, k: KeyState): SuppressedLines {
  const s = { key, suppressed: k.suppressed, intervalMs: k.intervalMs, clients: Object.fromEntries(k.clients), otherClientLines: k.otherClientLines }
  k.suppressed = 0
  k.clients = new Map()
  k.otherClientLines = 0
  return s
}

function countClient(k: KeyState, client: string | undefined): void {
  const n = client === undefined ? undefined : k.clients.get(client)
  if (client !== undefined && (n !== undefined || k.clients.size < MAX_NAMED_CLIENTS)) k.clients.set(client, (n ?? 0) + 1)
  else k.otherClientLines++
}

/** A LineCap with a timer that writes each summary when its window ends. */
export interface TimedLineCap {
  take(key: string, client?: string): boolean
  /** Says every pending summary now (at exit), whether or not its window has ended. */
  flush(): void
}

/** Wraps `createLineCap` with the clock and a single unref'd timer for summaries. */
export function startLineCap(settings: () => LineCapSettings, say: (s: SuppressedLines) => void, now: () => number = Date.now): TimedLineCap {
  const cap = createLineCap()
  let timer: NodeJS.Timeout | undefined
  const fire = (): void => {
    timer = undefined
    for (const s of cap.due(now())) say(s)
    arm()
  }
  const arm = (): void => {
    const next = cap.nextDue()
    if (timer !== undefined || next === undefined) return
    timer = setTimeout(fire, timerDelay(next - now()))
    timer.unref()
  }
  return {
    take(key, client) {
      const ok = cap.take(key, now(), settings(), client)
      if (!ok) arm()
      return ok
    },
    flush() {
      clearTimeout(timer)
      timer = undefined
      for (const s of cap.due(Infinity)) say(s)
    },
  }
}
