/**
 * Change detection for the config and every file it references. Directories are watched,
 * not files: editors and Kubernetes replace files (a Secret update renames the `..data`
 * symlink), and a watch on the old inode would never fire. Events are debounced and a
 * content fingerprint decides whether anything really changed.
 */
import { createHash } from 'node:crypto'
import { readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

/** sha256 over every file's path and content ("missing" when unreadable). */
export function fingerprint(files: readonly string[]): string {
  const hash = createHash('sha256')
  for (const f of [...files].sort()) {
    hash.update(f).update('\0')
    try {
      // Small files, read only after a debounced change event: sync keeps this simple.
      hash.update(readFileSync(f))
    } catch {
      hash.update('missing')
    }
    hash.update('\0')
  }
  return hash.digest('hex')
}

/** Files to watch and what to call when their content changed. */
export interface ChangeWatcherOptions {
  files: readonly string[]
  /** Quiet time after the last event before the files are compared (default 300 ms). */
  debounceMs?: number
  /** Called when the fingerprint of the files differs from the last one seen. */
  onChange(): void
  onError?(dir: string, err: Error): void
}

/** A running directory watcher. */
export interface ChangeWatcher {
  /** Replaces the watched files (after a reload changed what the config references). */
  setFiles(files: readonly string[]): void
  /**
   * Watches these files as well, until the next setFiles: after a refused reload, the files
   * the refused config names (a certificate it references may arrive after the config does).
   */
  addFiles(files: readonly string[]): void
  close(): void
}

function watchedDirs(files: readonly string[]): Set<string> {
  const dirs = new Set<string>()
  for (const f of files) {
    dirs.add(dirname(f))
    try {
      // A file symlinked from elsewhere changes where its target lives.
      dirs.add(dirname(realpathSync(f)))
    } catch {
      // Missing now; its own directory is watched, which is where it will reappear.
    }
  }
  return dirs
}

/** Starts watching the directories of `files`. */
export function watchFiles(o: ChangeWatcherOptions): ChangeWatcher {
  const debounceMs = o.debounceMs ?? 300
  let files = [...o.files]
  let names = new Set(files.map((f) => basename(f)))
  let last = fingerprint(files)
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const relevant = (name: string | null): boolean => name === null || names.has(name) || name.startsWith('..')
  const check = (): void => {
    timer = undefined
    if (closed) return
    retarget()
    const now = fingerprint(files)
    if (now === last) return
    last = now
    o.onChange()
  }
  const schedule = (): void => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(check, debounceMs)
  }
  const retarget = (): void => {
    const wanted = watchedDirs(files)
    for (const [dir, w] of watchers) {
      if (!wanted.has(dir)) {
        w.close()
        watchers.delete(dir)
      }
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (relevant(name === null ? null : String(name))) schedule()
        })
        w.on('error', (err) => {
          w.close()
          watchers.delete(dir)
          o.onError?.(dir, err)
        })
        watchers.set(dir, w)
      } catch (e) {
        o.onError?.(dir, e as Error)
      }
    }
  }
  retarget()
  return {
    setFiles(next) {
      files = [...next]
      names = new Set(files.map((f) => basename(f)))
      last = fingerprint(files)
      retarget()
    },
    addFiles(more) {
      const missing = more.filter((f) => !files.includes(f))
      if (missing.length === 0) return
      files = [...files, ...missing]
      names = new Set(files.map((f) => basename(f)))
      last = fingerprint(files)
      retarget()
    },
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      for (const w of watchers.values()) w.close()
      watchers.clear()
    },
  }
}
