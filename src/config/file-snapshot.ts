/**
 * The bytes of the files a config references, as they were when the config was read. A
 * `--workers` primary reads them once (with the config text) and hands them to every worker,
 * at its start and with every relayed reload; a worker pins them, so everything that reads a
 * referenced file (`${file:}`, bundles, keys, CRLs, listener and Redis TLS, the OTLP exporter's
 * files) builds from those bytes, never from the disk as it is later (a Secret rotation is a
 * burst of writes: two reads a moment apart can see different files). Without a pin every read
 * is the disk's, as in a single process.
 */
import { readFileSync } from 'node:fs'

/** Path → the file's bytes as base64 (IPC-safe), or null when it was unreadable. */
export type ConfigFileSnapshot = Readonly<Record<string, string | null>>

let pinned: ReadonlyMap<string, Buffer | null> | undefined
// While a load records: the disk's bytes of every file read, so its snapshot holds what it parsed.
let recording: Map<string, Buffer> | undefined

/** Reads every file in `files` now (a missing one is recorded as missing); `read` holds bytes already read. */
export function snapshotConfigFiles(files: readonly string[], read: ReadonlyMap<string, Buffer> = new Map()): ConfigFileSnapshot {
  const out: Record<string, string | null> = {}
  for (const f of files) {
    try {
      out[f] = (read.get(f) ?? readFileSync(f)).toString('base64')
    } catch {
      out[f] = null
    }
  }
  return out
}

/** Runs `fn`, returning the disk's bytes of every config file it read (none come from a pin). */
export function recordConfigFileReads<T>(fn: () => T): { value: T; read: ReadonlyMap<string, Buffer> } {
  const read = new Map<string, Buffer>()
  const [outerPin, outerRecording] = [pinned, recording]
  pinned = undefined
  recording = read
  try {
    return { value: fn(), read }
  } finally {
    ;[pinned, recording] = [outerPin, outerRecording]
  }
}

/** From now on, reads of the snapshot's files return its bytes; `undefined` reads the disk again. */
export function pinConfigFiles(snapshot: ConfigFileSnapshot | undefined): void {
  pinned = snapshot === undefined ? undefined : new Map(Object.entries(snapshot).map(([f, b64]) => [f, b64 === null ? null : Buffer.from(b64, 'base64')]))
}

/**
 * Runs `build` with `snapshot` pinned. `keep`: a build that succeeds leaves it pinned (the
 * previous pin is freed: a worker's config in force was built from it), one that throws
 * restores the previous pin (the config in force stays); otherwise the previous pin is restored.
 */
export function withConfigFiles<T>(snapshot: ConfigFileSnapshot, build: () => T, keep = false): T {
  const outer = pinned
  pinConfigFiles(snapshot)
  let ok = false
  try {
    const value = build()
    ok = true
    return value
  } finally {
    if (!(keep && ok)) pinned = outer
  }
}

/** A referenced file's bytes: the pinned snapshot's when it holds the file, else the disk's. */
export function readConfigFile(file: string): Buffer
export function readConfigFile(file: string, encoding: 'utf8'): string
export function readConfigFile(file: string, encoding?: 'utf8'): Buffer | string {
  const held = pinned?.get(file)
  if (held === undefined) {
    const bytes = readFileSync(file)
    if (recording && !recording.has(file)) recording.set(file, bytes)
    return encoding ? bytes.toString(encoding) : bytes
  }
  if (held === null) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' })
  return encoding ? held.toString(encoding) : Buffer.from(held)
}
