/**
 * Where the web console lives on the admin listener and whether the config turns it on. Here,
 * below the console, so a process can decide whether to load the console's modules without
 * loading them.
 */
import type { AdminConfig } from './types.js'

/** The console's path on the admin listener. */
export const CONSOLE_PREFIX = '/console/'

/** Whether an operator can sign in: an admin token, or admin client certificates named for the console. */
export function isConsoleOn(admin: AdminConfig): boolean {
  return admin.token !== undefined || (admin.tls !== undefined && admin.tls.clientSubjects.length + admin.tls.clientSans.length > 0)
}
