/**
 * The console's modules (with the OAuth dance's, which it uses: about as much CPU as the rest of
 * a start) are imported only in a process that serves the admin listener, and there before it
 * listens when the config turns the console on, else when a reload turns it on or at the first
 * request under /console/ (which then answers as the console does, "off" until it is set up).
 */
import { CONSOLE_PREFIX, isConsoleOn, type AdminConfig, type GatewayConfig } from '../config/index.js'
import type { AdminRoutes } from '../ops/index.js'

/** cli/console-host.ts, once imported. */
export type ConsoleHosts = typeof import('./console-host.js')

/** Mounts the console on one admin listener, and follows the configs it serves. */
export interface ConsoleLoader {
  /** The console when `admin()` turns it on (a promise while it loads), else a stand-in that loads it when asked. */
  mount(admin: () => AdminConfig, build: (hosts: ConsoleHosts) => AdminRoutes): AdminRoutes | Promise<AdminRoutes>
  /** A config the process serves from now on: the console loads if it turns it on. */
  follow(config: GatewayConfig): void
}

/** A loader for one admin listener's console. */
export function createConsoleLoader(): ConsoleLoader {
  let build: ((hosts: ConsoleHosts) => AdminRoutes) | undefined
  let routes: AdminRoutes | undefined
  let loading: Promise<AdminRoutes> | undefined
  let closed = false
  const load = (make: (hosts: ConsoleHosts) => AdminRoutes): Promise<AdminRoutes> =>
    (loading ??= import('./console-host.js').then((hosts) => {
      routes = make(hosts)
      // The listener closed while the console loaded: stop what it started.
      if (closed) routes.close?.()
      return routes
    }))
  return {
    mount(admin, make) {
      build = make
      if (isConsoleOn(admin())) return load(make)
      return {
        prefix: CONSOLE_PREFIX,
        handle: async (req, res, path) => (await load(make)).handle(req, res, path),
        listed: () => routes?.listed?.() ?? isConsoleOn(admin()),
        close: () => {
          closed = true
          routes?.close?.()
        },
      }
    },
    follow(config) {
      // A failed import is reported by the first request, which retries nothing: the install is broken.
      if (build && isConsoleOn(config.admin)) load(build).catch(() => undefined)
    },
  }
}
