/**
 * Whether the caller is still there: told once, when its connection closes before the
 * response is complete. One watcher (the forward step's upstream call) and no emitter: an
 * EventEmitter or AbortSignal per request, and the listener undici adds to a request signal,
 * cost more than everything else this does.
 */

/** The caller's side of one request, as the steps see it. */
export interface CallerPresence {
  readonly gone: boolean
  /** Runs `fn` once when the caller goes away (at once if it already has); a later watcher replaces an earlier one. */
  onGone(fn: (reason: Error) => void): void
}

/** The presence of one request and the function that ends it (later calls do nothing). */
export class Presence implements CallerPresence {
  gone = false
  #reason: Error | undefined = undefined
  #watcher: ((reason: Error) => void) | undefined = undefined

  onGone(fn: (reason: Error) => void): void {
    if (this.#reason !== undefined) return fn(this.#reason)
    this.#watcher = fn
  }

  leave(reason: Error): void {
    if (this.gone) return
    this.gone = true
    this.#reason = reason
    const watcher = this.#watcher
    this.#watcher = undefined
    watcher?.(reason)
  }
}
