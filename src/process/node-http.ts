/**
 * node:http, loaded with `require` on first use. An ESM `import … from 'node:http'` builds the
 * module's namespace by reading every export, and three of them (WebSocket, CloseEvent,
 * MessageEvent) are getters that load Node's bundled copy of undici — about 80 ms of CPU in every
 * process, for a second undici the gateway never uses (its upstream calls go through the npm
 * undici). Node's issues 57649 and 59686; `require` reads no export it is not asked for.
 * test/cli/serve-modules.test.ts fails if a `serve` process loads the bundled undici again.
 */
import { createRequire } from 'node:module'

let http: typeof import('node:http') | undefined

/** The node:http module (the same object every `require` and `import` of it gives). */
export function nodeHttp(): typeof import('node:http') {
  return (http ??= createRequire(import.meta.url)('node:http') as typeof import('node:http'))
}
