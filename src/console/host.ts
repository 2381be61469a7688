/**
 * What the console needs from the process that serves the admin listener. The single
 * process hands its live snapshot; the cluster primary compiles one on demand and asks
 * its workers for the rest (AdminFacts), so either way the console sees the instance.
 */
import type { GatewayConfig } from '../config/index.js'
import type { Gateway } from '../gateway/index.js'
import type { AdminFacts } from '../ops/index.js'
import type { RestartBaseline, Runtime } from '../runtime/index.js'
import type { SessionState } from './session-key.js'

/** The console's view of the running gateway. */
export interface ConsoleHost {
  readonly configFile: string
  readonly facts: AdminFacts
  /** The config in force. */
  config(): GatewayConfig
  /** What a reload's restart-only keys are judged against (the draft validator judges alike). */
  restartBaseline(): RestartBaseline
  /** Runs `fn` with a compiled snapshot (the live one, or a temporary one that is closed after). */
  withGateway<T>(fn: (gateway: Gateway) => Promise<T>): Promise<T>
  /** The process's store (users' tokens) once the config needs one, else the one sessions opened; seal keys are in the snapshot. */
  readonly runtime: Pick<Runtime, 'store'>
  /**
   * Where console sessions live: the store every replica shares (opened for the console when
   * nothing else needs one) and store.sealKeys' sealer, as the config in force has them.
   */
  sessionState(): SessionState
}
