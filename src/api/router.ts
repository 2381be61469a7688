/**
 * /gateway/… routes as a list of handlers tried in order; each says whether the path was
 * its own. Errors from any of them become the standard JSON error (401 for credentials).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Gateway } from '../gateway/index.js'
import { withOneStoreWait } from '../store/index.js'

export type ApiRoute = (req: IncomingMessage, res: ServerResponse, gateway: Gateway, path: string, url: URL) => Promise<boolean>

/** Combines routes into the listener's ApiHandler. */
export function createApiRouter(routes: readonly ApiRoute[]) {
  // One store wait per request (docs/store.md): the admin-token throttle's calls and the route's share it.
  return (req: IncomingMessage, res: ServerResponse, gateway: Gateway): Promise<boolean> => withOneStoreWait(async () => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid')
    for (const route of routes) if (await route(req, res, gateway, url.pathname, url)) return true
    return false
  })
}
