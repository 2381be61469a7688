/**
 * undici, loaded when the first upstream pool is built (a snapshot compiled to serve), as the
 * store's drivers are: a `--workers` primary validates configs with gateway/ but dials nothing.
 * Only the files the gateway uses are loaded (Agent, Dispatcher, errors), not undici's index: the
 * index also loads fetch, WebSocket, EventSource, the caches, the mocks and the cookies, whose first
 * line reads `globalThis.Headers` and so loads Node's bundled copy of undici too — about 110 modules
 * and 210 ms of CPU against 23 and 80 ms. The same instances undici's index exports (Node's
 * CommonJS cache), as undici-parser-errors.ts's reads of undici's files are.
 * test/cli/serve-modules.test.ts fails if a `serve` process loads undici's index again.
 */
import { createRequire } from 'node:module'
import type { Agent, Client, Dispatcher, errors } from 'undici'
import { correctingParserErrors } from './undici-parser-errors.js'

export type { Dispatcher, buildConnector } from 'undici'

const load = createRequire(import.meta.url)

let dispatcherClass: typeof Dispatcher | undefined

/**
 * undici's Dispatcher class, loaded on the first call, with the methods undici's index puts on its
 * prototype (`request`, `stream`, `pipeline`, `upgrade`, `connect`: the OAuth 1.0a token calls use
 * `request`), which an Agent or a pool inherits: without them, loading the files alone left every
 * `dispatcher.request` a TypeError.
 */
export function undiciDispatcher(): typeof Dispatcher {
  if (dispatcherClass) return dispatcherClass
  const loaded = load('undici/lib/dispatcher/dispatcher.js') as typeof Dispatcher
  if (typeof (loaded.prototype as Partial<Dispatcher>).request !== 'function') Object.assign(loaded.prototype, load('undici/lib/api/index.js') as object)
  return (dispatcherClass = loaded)
}

/** undici's error classes (its `errors` export), loaded on the first call. */
export const undiciErrors = (): typeof errors => load('undici/lib/core/errors.js') as typeof errors

/** `new Agent(options)`, loading undici on the first call; a connector function has its parser's errors corrected (undici-parser-errors.ts). */
export function newAgent(options: Agent.Options): Agent {
  undiciDispatcher()
  const UndiciAgent = load('undici/lib/dispatcher/agent.js') as typeof Agent
  const { connect } = options
  return new UndiciAgent(typeof connect === 'function' ? Object.assign({}, options, { connect: correctingParserErrors(connect) }) : options)
}

/** `new Client(origin, options)` (one origin, one connection at a time: a connection test's), loaded and corrected as newAgent's pools. */
export function newClient(origin: string, options: Client.Options): Client {
  undiciDispatcher()
  const UndiciClient = load('undici/lib/dispatcher/client.js') as typeof Client
  const { connect } = options
  return new UndiciClient(origin, typeof connect === 'function' ? Object.assign({}, options, { connect: correctingParserErrors(connect) }) : options)
}
