/**
 * The process's budget for request bodies held whole in memory. `limits.maxBufferedBody`
 * bounds one body; this bounds their sum, so many callers each sending a body just under
 * that limit cannot take the process past its memory limit. One per process, kept across
 * reloads: the count is of bodies in memory now, whatever snapshot they arrived under; the
 * limit is read from each request's snapshot (`limits.maxBufferedTotal`), so a reload changes it.
 */

/** One request's share of the budget. */
export interface BodyHold {
  /** Charges `bytes` more; false (nothing charged) when the total would exceed the limit or the hold is released. */
  take(bytes: number): boolean
  /** Gives back everything this hold charged; later take() calls refuse. Safe to call more than once. */
  release(): void
}

/** The budget of one process. */
export interface BufferedBodies {
  /** Bytes charged by holds not yet released. */
  readonly held: number
  /** Requests refused so far because the budget was full. */
  readonly refusals: number
  /** Opens a hold charged against `limit` bytes in all (0: no limit, only counted). */
  hold(limit: number): BodyHold
}

/** A new, empty budget. */
export function createBufferedBodies(): BufferedBodies {
  let held = 0
  let refusals = 0
  return {
    get held() {
      return held
    },
    get refusals() {
      return refusals
    },
    hold(limit) {
      let charged = 0
      let open = true
      let refused = false
      return {
        take(bytes) {
          if (!open) return false
          if (limit > 0 && held + bytes > limit) {
            // One refused request is one refusal, however many chunks it tried.
            if (!refused) refusals++
            refused = true
            return false
          }
          held += bytes
          charged += bytes
          return true
        },
        release() {
          if (!open) return
          open = false
          held -= charged
          charged = 0
        },
      }
    },
  }
}
