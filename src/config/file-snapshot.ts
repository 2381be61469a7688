/**
 * The bytes of the files a config references, as they were when the config was accepted.
 * A `--workers` primary reads them once (with the config text) and hands them to every worker
 * it starts, first or replacement; a worker pins them, so everything that reads a referenced
 * file (`${file:}`, bundles, keys, CRLs, listener and Redis TLS, the OTLP exporter's files)
 * builds from those bytes, never from the disk as it is later. Without a pin every read is
 * the disk's, as in a single process and in every hot reload.
 */
import { readFileSync } from 'node:fs'

/** Path → the file's bytes as base64 (IPC-safe), or null when it was unreadable. */
export type ConfigFileSnapshot = Readonly<Record<string, string | null>>

let pinned: ReadonlyMap<string, Buffer | null> | undefined

/** Reads every file in `files` now (a missing one is recorded as missing). */
export function snapshotConfigFiles(files: readonly string[]): ConfigFileSnapshot {
  const out: Record<string, string | null> = {}
  for (const f of files) {
    try {
      out[f] = readFileSync(f).toString('base64')
    } catch {
      out[f] = null
    }
  }
  return out
}

/** From now on, reads of the snapshot's files return its bytes; `undefined` reads the disk again. */
export function pinConfigFiles(snapshot: ConfigFileSnapshot | undefined): void {
  pinned = snapshot === undefined ? undefined : new Map(Object.entries(snapshot).map(([f, b64]) => [f, b64 === null ? null : Buffer.from(b64, 'base64')]))
}

/** A referenced file's bytes: the pinned snapshot's when it holds the file, else the disk's. */
export function readConfigFile(file: string): Buffer
export function readConfigFile(file: string, encoding: 'utf8'): string
export function readConfigFile(file: string, encoding?: 'utf8'): Buffer | string {
  const held = pinned?.get(file)
  if (held === undefined) return encoding ? readFileSync(file, encoding) : readFileSync(file)
  if (held === null) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' })
  return encoding ? held.toString(encoding) : Buffer.from(held)
}
