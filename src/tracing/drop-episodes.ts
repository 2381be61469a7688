/**
 * Span drops as log lines an SRE can read: one line when drops start, one with their count once
 * none came for a quiet window (30 s by default), never a line per span. A flood that drops
 * thousands of spans a second thus writes two lines, the second saying how many were lost.
 */

/** What the episodes are reported to. */
export interface DropEpisodeOptions {
  /** The first span of an episode was dropped. */
  started(): void
  /** An episode ended (no drop for `quietMs`, or the tracer shut down): `spans` dropped in it. */
  ended(spans: number): void
  /** How long without a drop ends an episode. */
  quietMs: number
}

/** Counts drops into episodes. */
export interface DropEpisodes {
  /** One span was dropped. */
  dropped(): void
  /** Ends a running episode now (its count reported) and stops the timer. */
  close(): void
}

/**
 * Reports drops by episode: at most one start line and one end line per `quietMs` window or more.
 * An episode ends `quietMs` after its last drop (a timer re-armed to the last drop's deadline, not
 * one per drop): before, a fixed interval checked for drops since its last tick, so an episode
 * ended 30-60 s after its last drop and never sooner than two windows after its first.
 */
export function dropEpisodes(o: DropEpisodeOptions): DropEpisodes {
  let inEpisode = 0
  let lastDrop = 0
  let timer: NodeJS.Timeout | undefined
  const end = (): void => {
    clearTimeout(timer)
    timer = undefined
    const spans = inEpisode
    inEpisode = 0
    o.ended(spans)
  }
  // Unref'd: a process with nothing else to do is not kept alive to write the end line.
  const arm = (ms: number): void => void (timer = setTimeout(check, ms).unref())
  const check = (): void => {
    const left = lastDrop + o.quietMs - Date.now()
    if (left > 0) return arm(left)
    end()
  }
  return {
    dropped() {
      lastDrop = Date.now()
      if (inEpisode++ > 0) return
      o.started()
      arm(o.quietMs)
    },
    close() {
      if (timer !== undefined) end()
    },
  }
}
