/**
 * Makes a folder and its missing parents one level at a time, each mkdir tried once. Node's
 * `mkdirSync(dir, { recursive: true })` retries a parent that exists while mkdir of the child
 * says ENOENT (as /proc answers), for ever, holding the event loop: start and reload hung, and
 * SIGTERM went unheard. Here that answer ends the walk with why the folder cannot be made.
 */
import { mkdirSync, rmdirSync, statfsSync, statSync } from 'node:fs'
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

// Kernel file systems (linux/magic.h) that hold no files of ours: mkdir there fails (procfs,
// sysfs: ENOENT or EPERM) or creates a kernel object (cgroup, configfs, bpffs), never a folder.
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x0027e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x62656570, 'configfs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x00001cd1, 'devpts'],
  [0x19800202, 'mqueue'],
  [0xf97cff8c, 'selinuxfs'],
  [0x65735543, 'fusectl'],
  [0x42494e4d, 'binfmt_misc'],
  [0x958458f6, 'hugetlbfs'],
])

/**
 * Why `dir`'s missing folders could not be made under `existing` (its nearest folder that
 * exists), judged without making anything: a validator (`check`, the console's draft) must not
 * create or remove folders, and a mkdir on cgroup or configfs would create a kernel object.
 * Undefined when nothing says it cannot; the start's makeFolders then has the last word.
 */
export function folderCreationProblem(dir: string, existing: string): string | undefined {
  let type: number
  try {
    type = statfsSync(existing).type
  } catch {
    return undefined
  }
  const kind = KERNEL_FILE_SYSTEMS.get(type)
  return kind === undefined ? undefined : `folder ${dir} cannot be created: ${existing} is on the kernel's ${kind} file system, which holds no files`
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
function removeFolders(made: readonly string[]): void {
  for (const at of [...made].reverse()) {
    try {
      rmdirSync(at)
    } catch {
      return
    }
  }
}
