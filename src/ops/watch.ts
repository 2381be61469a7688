/**
 * Change detection for the config and every file it references. Directories are watched,
 * not files: editors and Kubernetes replace files (a Secret update renames the `..data`
 * symlink), and a watch on the old inode would never fire. Events are debounced and a
 * content fingerprint decides whether anything really changed.
 */
import { createHash } from 'node:crypto'
import { realpathSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { readConfigFile } from '../config/index.js'

/**
 * sha256 over every file's path and content ("missing" when unreadable). Read as config files
 * are: under a pin (a `--workers` primary adopting a snapshot) the snapshot's bytes, so files
 * rewritten after the primary read them still count as a change.
 */
export function fingerprint(files: readonly string[]): string {
  const hash = createHash('sha256')
  for (const f of [...files].sort()) {
    hash.update(f).update('\0')
    try {
      // Small files, read only after a debounced change event: sync keeps this simple.
      hash.update(readConfigFile(f))
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
  /**
   * The reload in progress, if any (a `--workers` primary's, which outlasts the debounce while the
   * workers build): a check waits until it settled, then compares against the files it adopted. A
   * write and a SIGHUP are then one reload, not a second of the same bytes queued behind the first.
   */
  busy?(): Promise<unknown> | undefined
  /**
   * A directory could not be watched: `dir` with every hidden value masked, and the error's code
   * (its message names the path again).
   */
  onError?(dir: string, code: string): void
  /**
   * Values the files' paths may hold that a report must not show: the config's `${env:}`/`${file:}`
   * values (a private key pasted where a path belongs is a "path" whose directory is most of the key).
   */
  hide?: readonly string[]
}

/** A running directory watcher. */
export interface ChangeWatcher {
  /** Replaces the watched files (after a reload changed what the config references), and the values to hide. */
  setFiles(files: readonly string[], hide?: readonly string[]): void
  /**
   * Watches these files as well, until the next setFiles: after a refused reload, the files
   * the refused config names (a certificate it references may arrive after the config does).
   */
  addFiles(files: readonly string[], hide?: readonly string[]): void
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

export const MASK = '[REDACTED]'

/**
 * `text` with each hidden value masked, and each part of one that ends before a "/" in it
 * (what dirname leaves of a path holding the value), longest first.
 */
export function maskHidden(text: string, hide: Iterable<string>): string {
  const forms = new Set<string>()
  for (const v of hide) {
    if (v.length < 4) continue
    forms.add(v)
    for (let i = v.indexOf('/'); i >= 0; i = v.indexOf('/', i + 1)) if (i >= 4) forms.add(v.slice(0, i))
  }
  let out = text
  for (const f of [...forms].sort((a, b) => b.length - a.length)) out = out.split(f).join(MASK)
  return out
}

const codeOf = (e: unknown): string => (typeof (e as { code?: unknown } | null)?.code === 'string' ? (e as { code: string }).code : 'error')

/** Starts watching the directories of `files`. */
export function watchFiles(o: ChangeWatcherOptions): ChangeWatcher {
  const debounceMs = o.debounceMs ?? 300
  let files = [...o.files]
  let hide = new Set(o.hide ?? [])
  const report = (dir: string, e: unknown): void => o.onError?.(maskHidden(dir, hide), codeOf(e))
  let names = new Set(files.map((f) => basename(f)))
  let last = fingerprint(files)
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const relevant = (name: string | null): boolean => name === null || names.has(name) || name.startsWith('..')
  const check = (): void => {
    timer = undefined
    if (closed) return
    const pending = o.busy?.()
    if (pending) return void pending.then(schedule, schedule)
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
    for (const [dir, w] of [...watchers].filter(([d]) => !wanted.has(d))) {
      w.close()
      watchers.delete(dir)
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
          report(dir, err)
        })
        watchers.set(dir, w)
      } catch (e) {
        report(dir, e)
      }
    }
  }
  retarget()
  return {
    setFiles(next, hidden = []) {
      files = [...next]
      hide = new Set(hidden)
      names = new Set(files.map((f) => basename(f)))
      last = fingerprint(files)
      retarget()
    },
    addFiles(more, hidden = []) {
      for (const v of hidden) hide.add(v)
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
