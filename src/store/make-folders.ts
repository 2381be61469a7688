/**
 * Makes a folder and its missing parents one level at a time, each mkdir tried once. Node's
 * `mkdirSync(dir, { recursive: true })` retries a parent that exists while mkdir of the child
 * says ENOENT (as /proc answers), for ever, holding the event loop: start and reload hung, and
 * SIGTERM went unheard. Here that answer ends the walk with why the folder cannot be made.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/** The folders made, outermost first; or why `dir` could not be made. */
export type FoldersMade = { readonly made: readonly string[] } | { readonly problem: string }

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e)

/** `dir`'s missing folders, outermost first: one per path segment at most, so bounded. */
function missingFolders(dir: string): string[] {
  const missing: string[] = []
  for (let at = dir; !exists(at) && dirname(at) !== at; at = dirname(at)) missing.push(at)
  return missing.reverse()
}

// Anything but ENOENT (ENOTDIR under a file, EACCES) ends the walk: the mkdir below it then fails naming why.
function exists(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch (e) {
    return codeOf(e) !== 'ENOENT'
  }
}

/** Makes `dir` and its missing parents (mode 0700), each once; stops at the first that cannot be made. */
export function makeFolders(dir: string): FoldersMade {
  const made: string[] = []
  for (const at of missingFolders(dir)) {
    try {
      mkdirSync(at, { mode: 0o700 })
      made.push(at)
    } catch (e) {
      const code = codeOf(e)
      // Another process (a worker, a replica) made it first: fine if it is a folder.
      if (code === 'EEXIST' && statSync(at, { throwIfNoEntry: false })?.isDirectory() === true) continue
      removeFolders(made)
      return { problem: `folder ${dir} cannot be created: mkdir ${at} failed (${code})` }
    }
  }
  return { made }
}

/** Removes folders makeFolders made, innermost first; one another process has put something in stays. */
export function removeFolders(made: readonly string[]): void {
  for (const at of [...made].reverse()) {
    try {
      rmdirSync(at)
    } catch {
      return
    }
  }
}
