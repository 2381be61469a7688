/**
 * The console's audit lines, and those of refusals anyone who reaches the admin listener can cause at will,
 * signed in or not (a cross-origin POST, a wrong admin token, a sign-in past the throttle): capped
 * like the listeners' caller faults (logging.callerFaults, listener `console`), the first lines of
 * a window whole, then one summary naming the addresses held back. So are its internal errors
 * (500): whatever caused one may be anyone's to repeat, a line with a stack each.
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../config/index.js'
import { capCallerFaultLines, type ConsoleRefusal } from '../ops/index.js'
import { callerAddress } from '../proxy/caller-address.js'

/** How much of a client-chosen route name a line keeps. */
const MAX_ACTION = 64

/** Writes one audit line: who did what, with what result (never a secret in `details`). */
export type Audit = (who: string, action: string, result: string, details?: Record<string, unknown>) => void

/** The console's audit line writer. */
export function auditLine(log: Logger): Audit {
  return (who, action, result, details = {}) => log.info({ audit: 'console', who, action, result, ...details }, `console: ${action} ${result}`)
}

/** Writes an anonymous audit line within the cap. */
export interface RefusalLines {
  refused(req: IncomingMessage, action: string, result: ConsoleRefusal, details?: Record<string, unknown>): void
  /** Logs the cause (its stack) of a 500 the console answered `client` (its address) with, within the cap (reason `internal`). */
  internalError(client: string | undefined, err: unknown): void
  /** Writes the pending summaries (when the console closes). */
  flush(): void
}

/** The cap for one console, reading the config in force at each line; `count` counts every refusal (console_refusals_total). */
export function capRefusalLines(log: Logger, config: () => GatewayConfig, audit: Audit, count: (reason: ConsoleRefusal) => void): RefusalLines {
  const faults = capCallerFaultLines({ logger: log }, () => config().logging.callerFaults)
  return {
    refused(req, action, result, details = {}) {
      count(result)
      if (!faults.allowed('console', 'request', result, callerAddress(req.socket))) return
      audit('anonymous', action.length > MAX_ACTION ? `${action.slice(0, MAX_ACTION)}…` : action, result, details)
    },
    internalError(client, err) {
      if (faults.allowed('console', 'request', 'internal', client)) log.error({ err }, 'console: internal error')
    },
    flush: () => faults.flush(),
  }
}
