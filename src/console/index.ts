/** The operators' web console, mounted on the admin listener under /console/. */
export { CONSOLE_PREFIX, createConsole } from './console.js'
export { CSP } from './http.js'
export { STATIC_NAMES } from './static.js'
export type { ConsoleHost } from './host.js'
export { resealSessionKey, type SessionState } from './session-key.js'
