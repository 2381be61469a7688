/**
 * The configs a `--workers` worker starts from: the texts its primary accepted, built from the
 * bytes of their referenced files as the primary read them (pinned until a relayed reload pins
 * the bytes it came with), so a replacement runs exactly what its siblings run, as a fresh start
 * of the last good config would. Without texts: the file on disk.
 */
import { resolve } from 'node:path'
import { loadConfig, parseConfig, pinConfigFiles, type ConfigFileSnapshot, type GatewayConfig } from '../config/index.js'
import type { ConfigTexts } from '../ops/index.js'

/** `start`: the instance's start (baseline of restart-only keys); `current`: the config to serve. */
export function startConfigs(configFile: string, texts: ConfigTexts | undefined): { start: GatewayConfig; current: GatewayConfig } {
  if (!texts) {
    const config = loadConfig(configFile)
    return { start: config, current: config }
  }
  const file = resolve(configFile)
  pinConfigFiles(texts.startFiles)
  const start = parseConfig(file, texts.start)
  pinConfigFiles(texts.currentFiles)
  // A replacement worker runs the instance's last good config, its restart-only keys checked against the instance's start
  // and the store the other workers opened (which it opens too).
  // The start's config is the current one only when the files are the same bytes too: a rotated
  // certificate or secret is accepted with the text unchanged, and `${file:}` values are read here.
  const same = texts.current === texts.start && sameFiles(texts.startFiles, texts.currentFiles)
  return { start, current: same ? start : parseConfig(file, texts.current) }
}

function sameFiles(a: ConfigFileSnapshot, b: ConfigFileSnapshot): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((f) => Object.hasOwn(b, f) && a[f] === b[f])
}
