/**
 * The gateway runs as a bundle (scripts/bundle.ts): a profile's frames name dist/src/main.js or
 * one of dist/src/chunks/, not the module the code came from, which is what the stage tables
 * attribute by. The bundle's source maps say which module each function came from.
 */
import { readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'

/** A profile's frame: where the function starts (0-based, as V8 reports it). */
export interface Frame {
  url: string
  lineNumber?: number
  columnNumber?: number
}

const BUNDLED = /\/dist\/src\/(main\.js|chunks\/[^/]+\.js)$/
const maps = new Map<string, SourceMap | null>()

function mapOf(url: string): SourceMap | null {
  let map = maps.get(url)
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0])
    } catch {
      map = null // no map beside it (tsc's unbundled build is not a bundle)
    }
    maps.set(url, map)
  }
  return map
}

/** The URL of the module a frame's function came from: through the source map for the bundle's files, else its own. */
export function originUrl(frame: Frame): string {
  if (!BUNDLED.test(frame.url) || frame.lineNumber === undefined || frame.lineNumber < 0) return frame.url
  const map = mapOf(frame.url)
  const entry = map?.findEntry(frame.lineNumber, Math.max(0, frame.columnNumber ?? 0))
  return entry !== undefined && 'originalSource' in entry && typeof entry.originalSource === 'string' && entry.originalSource !== '' ? new URL(entry.originalSource, frame.url).href : frame.url
}
