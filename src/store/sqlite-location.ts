/**
 * Where the SQLite store's file lives: why it could not be opened there, found without creating
 * anything (the store's open refuses with these words before it creates the folder or the file,
 * and `check` and the console's draft validator report the same words, so they cannot disagree),
 * and creating the folder and file with the gateway's user alone allowed to read them.
 * As root, access() ignores permission bits but not a read-only file system, as open() does.
 */
import { accessSync, chmodSync, closeSync, constants, openSync, readSync, statSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { folderCreationProblem, makeFolders } from '../process/index.js'
import { sqliteSchemaProblem } from './sqlite-schema.js'

// Every SQLite 3 database file starts with these 16 bytes; an empty file becomes one.
const HEADER = Buffer.from('SQLite format 3\0', 'latin1')

/** `sqlite store "<file>": cannot open: <why>` when a start could not open `file` (absolute); undefined when it could. */
export function sqliteFileProblem(file: string): string | undefined {
  const why = folderProblem(dirname(file)) ?? fileProblem(file)
  return why === undefined ? undefined : `sqlite store "${file}": cannot open: ${why}`
}

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e)

function accessProblem(path: string, mode: number): string | undefined {
  try {
    accessSync(path, mode)
    return undefined
  } catch (e) {
    return codeOf(e)
  }
}

// The folder is created (one level at a time: make-folders.ts) when missing; SQLite then creates the file and its -wal
// and -shm beside it, so the folder must be writable.
function folderProblem(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    let stats: Stats
    try {
      stats = statSync(at)
    } catch (e) {
      const code = codeOf(e)
      // Missing, or under something that is not a folder: look further up.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) continue
      return `folder ${dir}: ${code}`
    }
    const made = at === dir ? `folder ${dir}` : `folder ${dir} cannot be created:`
    if (!stats.isDirectory()) return at === dir ? `${dir} is not a folder` : `${made} ${at} is not a folder`
    const denied = accessProblem(at, constants.W_OK | constants.X_OK)
    if (denied !== undefined) return at === dir ? `${made} is not writable (${denied})` : `${made} ${at} is not writable (${denied})`
    // access() allows writing under /proc as root; the file system's kind says mkdir would fail.
    return at === dir ? undefined : folderCreationProblem(dir, at)
  }
}

function fileProblem(file: string): string | undefined {
  let stats: Stats | undefined
  try {
    stats = statSync(file, { throwIfNoEntry: false })
  } catch (e) {
    return codeOf(e)
  }
  if (stats === undefined) return undefined
  if (stats.isDirectory()) return 'it is a folder, not a file'
  if (!stats.isFile()) return 'it is not a regular file'
  const denied = accessProblem(file, constants.R_OK | constants.W_OK)
  if (denied !== undefined) return `it is not readable and writable (${denied})`
  if (stats.size === 0) return undefined
  try {
    if (!hasSqliteHeader(file)) return 'it is not a SQLite database'
  } catch (e) {
    // E.g. EMFILE: a process at its descriptor limit could not open it either.
    return `it cannot be read (${codeOf(e)})`
  }
  return sqliteSchemaProblem(file)
}

function hasSqliteHeader(file: string): boolean {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(HEADER.length)
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(HEADER)
  } finally {
    closeSync(fd)
  }
}

/**
 * Creates the folder and the file. Bearers, the jti cache, dance state and (without
 * store.sealKeys) the console's session key and JWT claims live in this file: only the gateway's
 * user may read it, whatever the umask. SQLite gives -wal and -shm the file's mode. A folder that
 * exists keeps its mode; a file that exists (an upgrade from a version that made it 0644) is
 * narrowed to 0600.
 */
export function createSqliteFile(file: string): void {
  const folders = makeFolders(dirname(file))
  if ('problem' in folders) throw new Error(`sqlite store "${file}": cannot open: ${folders.problem}`)
  closeSync(openSync(file, 'a', 0o600))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600)
    } catch {
      // missing (-wal, -shm before the first write) or not ours to change
    }
  }
}
