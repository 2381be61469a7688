/** How a relayed upstream response reports to the request that owns it (upstream-call.ts). */

/** A stalled response's clock (the listener's send-idle limit). */
export interface SendStall {
  start(): void
  stop(): void
}

/** What the relay reports to the request that owns it. */
export interface RelayHooks {
  /** Started while the caller's socket stops taking bytes; stopped when it drains. */
  stall?: SendStall
  /** The upstream failed after the status was sent: the response is cut (destroyed) after this. */
  onCut(err: Error): void
}
