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

/** Reports drops by episode: at most one start line and one end line per `quietMs` window or more. */
export function dropEpisodes(o: DropEpisodeOptions): DropEpisodes {
  let inEpisode = 0
  let sinceCheck = 0
  let timer: NodeJS.Timeout | undefined
  const end = (): void => {
    clearInterval(timer)
    timer = undefined
    const spans = inEpisode
    inEpisode = 0
    o.ended(spans)
  }
  const check = (): void => {
    if (sinceCheck === 0) return end()
    sinceCheck = 0
  }
  return {
    dropped() {
      sinceCheck++
      if (inEpisode++ > 0) return
      o.started()
      // Unref'd: a process with nothing else to do is not kept alive to write the end line.
      timer = setInterval(check, o.quietMs).unref()
    },
    close() {
      if (timer !== undefined) end()
    },
  }
}
