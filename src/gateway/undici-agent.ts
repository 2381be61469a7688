/**
 * undici, loaded when the first upstream pool is built (a snapshot compiled to serve), as the
 * store's drivers are: a `--workers` primary validates configs with gateway/ but dials nothing.
 * The same module instance as an `import` of undici (Node's CommonJS cache).
 */
import { createRequire } from 'node:module'
import type { Agent } from 'undici'

export type { Dispatcher, buildConnector } from 'undici'

const load = createRequire(import.meta.url)

/** `new Agent(options)`, loading undici on the first call. */
export function newAgent(options: Agent.Options): Agent {
  const undici = load('undici') as typeof import('undici')
  return new undici.Agent(options)
}
