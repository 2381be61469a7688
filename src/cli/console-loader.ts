/**
 * The console's modules (with the OAuth dance's, which it uses: about as much CPU as the rest of
 * a start) are imported only in a process that serves the admin listener, and there before it
 * listens when the config turns the console on, else when a reload turns it on or at the first
 * request under /console/ (which then answers as the console does, "off" until it is set up).
 * An import that fails fails the start when the console is on at start; later (a reload turned it
 * on, or the first request) it is logged at error, and /console/ answers 500 naming it until the
 * next reload with the console on imports it again (an operator who fixed the install reloads;
 * requests meanwhile do not retry it, so a broken install costs no import per request).
 */
import { CONSOLE_PREFIX, isConsoleOn, type AdminConfig, type GatewayConfig } from '../config/index.js'
import type { AdminFacts, AdminRoutes } from '../ops/index.js'

/** cli/console-host.ts, once imported. */
export type ConsoleHosts = typeof import('./console-host.js')

/** Mounts the console on one admin listener, and follows the configs it serves. */
export interface ConsoleLoader {
  /** The console when `admin()` turns it on (a promise while it loads), else a stand-in that loads it when asked; its failure to load is logged on `log` (at start it fails the start instead). */
  mount(admin: () => AdminConfig, build: (hosts: ConsoleHosts) => AdminRoutes, log: AdminFacts['log']): AdminRoutes | Promise<AdminRoutes>
  /** A config the process serves from now on: the console loads if it turns it on. */
  follow(config: GatewayConfig): void
}

/** What a loader knows of its console's import. */
interface ImportState {
  routes?: AdminRoutes
  /** The listener closed: routes built after it are stopped at once. */
  closed: boolean
  /** The last import failed: the next reload that needs the console imports it again. */
  failed: boolean
  retried: boolean
  /** Where a failure is logged: set once the start is over (at start a failure fails the start). */
  log?: AdminFacts['log']
}

/** A loader for one admin listener's console. */
export function createConsoleLoader(): ConsoleLoader {
  let build: ((hosts: ConsoleHosts) => AdminRoutes) | undefined
  let loading: Promise<AdminRoutes> | undefined
  const state: ImportState = { closed: false, failed: false, retried: false }
  const load = (make: (hosts: ConsoleHosts) => AdminRoutes): Promise<AdminRoutes> => (loading ??= importRoutes(state, make))
  return {
    mount(admin, make, log) {
      build = make
      if (isConsoleOn(admin())) return load(make)
      state.log = log
      return {
        prefix: CONSOLE_PREFIX,
        handle: async (req, res, path) => (await load(make)).handle(req, res, path),
        listed: () => state.routes?.listed?.() ?? isConsoleOn(admin()),
        close: () => {
          state.closed = true
          state.routes?.close?.()
        },
      }
    },
    follow(config) {
      if (!build || !isConsoleOn(config.admin)) return
      // A reload that needs the console imports it again after a failure (the install may be
      // fixed since); load logs a failure, and /console/ then answers 500 naming it.
      if (state.failed) [state.failed, state.retried, loading] = [false, true, undefined]
      load(build).catch(() => undefined)
    },
  }
}

/** Imports the console's modules and builds its routes with `make`. */
function importRoutes(state: ImportState, make: (hosts: ConsoleHosts) => AdminRoutes): Promise<AdminRoutes> {
  return import('./console-host.js').then(
    (hosts) => {
      if (state.retried) state.log?.info('console: its modules loaded at last (a reload tried the failed import again)')
      state.routes = make(hosts)
      // The listener closed while the console loaded: stop what it started.
      if (state.closed) state.routes.close?.()
      return state.routes
    },
    (e: unknown) => {
      state.failed = true
      state.log?.error({ err: e }, 'console: its modules could not be loaded; /console/ answers 500 until a reload with the console on loads them')
      throw e
    },
  )
}
