/**
 * undici, loaded when the first upstream pool is built (a snapshot compiled to serve), as the
 * store's drivers are: a `--workers` primary validates configs with gateway/ but dials nothing.
 * The same module instance as an `import` of undici (Node's CommonJS cache).
 */
import { createRequire } from 'node:module'
import type { Agent } from 'undici'
import { correctingParserErrors } from './undici-parser-errors.js'

export type { Dispatcher, buildConnector } from 'undici'

const load = createRequire(import.meta.url)

/** undici itself, loaded on the first call (the same instance an `import` would give). */
export const undiciModule = (): typeof import('undici') => load('undici') as typeof import('undici')

/** `new Agent(options)`, loading undici on the first call; a connector function has its parser's errors corrected (undici-parser-errors.ts). */
export function newAgent(options: Agent.Options): Agent {
  const undici = undiciModule()
  const { connect } = options
  return new undici.Agent(typeof connect === 'function' ? Object.assign({}, options, { connect: correctingParserErrors(connect) }) : options)
}
