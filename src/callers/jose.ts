/**
 * jose, imported when a caller's JWT or JWE is first checked rather than with the callers
 * folder: a process whose config registers no caller app (and a `--workers` primary, which
 * verifies none) never loads it. A gateway whose snapshot has apps loads it before it serves
 * (preloadJose), so the first assertion does not wait for the import.
 */
/** The jose module. */
export type Jose = typeof import('jose')

let loaded: Jose | undefined
let loading: Promise<Jose> | undefined
let failed = false

/** jose, imported at the first call; after a failed import, that failure until preloadJose tries again. */
export async function jose(): Promise<Jose> {
  return (
    loaded ??
    (loading ??= import('jose').then(
      (m) => (loaded = m),
      (e: unknown) => {
        failed = true
        throw e
      },
    ))
  )
}

/**
 * Imports jose now when `apps` registers any caller app (at start, and on every reload with one):
 * a reload tries a failed import again (the install may be fixed since).
 */
export async function preloadJose(apps: ReadonlyMap<string, unknown>): Promise<void> {
  if (apps.size === 0) return
  if (failed) [failed, loading] = [false, undefined]
  await jose()
}
