/**
 * A directory laid out as kubelet lays out a Secret volume: each file is a symlink through
 * `..data` to a timestamped directory, and an update writes a new timestamped directory, renames
 * a new `..data` link over the old one and removes the old directory (the atomic writer).
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface SecretVolume {
  readonly dir: string
  /** The path the config names for `name` (a symlink through `..data`). */
  path(name: string): string
  /** Publishes a new version with these files' contents, as kubelet does on a Secret update. */
  update(files: Record<string, string>): void
}

/** Creates the volume at `dir` with its first version. */
export function secretVolume(dir: string, files: Record<string, string>): SecretVolume {
  let version = 0
  let current: string | undefined
  const publish = (contents: Record<string, string>): void => {
    version++
    const name = `..2026_01_01_00_00_00.${String(version).padStart(9, '0')}`
    mkdirSync(join(dir, name), { recursive: true })
    for (const [file, text] of Object.entries(contents)) writeFileSync(join(dir, name, file), text, { mode: 0o600 })
    symlinkSync(name, join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    if (current !== undefined) rmSync(join(dir, current), { recursive: true })
    current = name
  }
  mkdirSync(dir, { recursive: true })
  publish(files)
  for (const file of Object.keys(files)) symlinkSync(`..data/${file}`, join(dir, file))
  return { dir, path: (name) => join(dir, name), update: publish }
}
