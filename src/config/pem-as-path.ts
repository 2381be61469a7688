/**
 * PEM text where a file path belongs (a key pasted inline with `|`, or given as `${env:…}` or
 * `${file:…}`): read as a path it would be named as a file that cannot be read, a private key
 * shown in full. Refused at load, at its key, as its reference or not at all.
 */
import { concealReferences } from './references.js'
import type { ConfigReference } from './types.js'
import type { Report } from './normalize-util.js'

export interface PemPathGuard {
  /** `paths`, noting each value that is PEM text. */
  abs(p: string): string
  /** Reports each key of `root` holding a value `abs` saw as PEM text. */
  report(root: unknown, references: readonly ConfigReference[], report: Report): void
}

export function pemPathGuard(paths: (p: string) => string): PemPathGuard {
  const seen = new Set<string>()
  return {
    abs(p) {
      if (p.includes('-----BEGIN ')) seen.add(p)
      return paths(p)
    },
    report(root, references, report) {
      for (const value of seen) for (const path of keysHolding(root, value)) report(path, pemAsPathProblem(value, references))
    },
  }
}

function pemAsPathProblem(value: string, references: readonly ConfigReference[]): string {
  const shown = concealReferences(value, references)
  const what = shown.includes('-----BEGIN ') ? 'is PEM text' : `is PEM text (${shown})`
  return `${what}, not a file path: write the PEM to a file and give that file's path (not \${file:…}, which reads the file's text)`
}

/** The key paths of `tree` whose string value is `value`. */
function keysHolding(tree: unknown, value: string, path: (string | number)[] = []): (string | number)[][] {
  if (typeof tree === 'string') return tree === value ? [path] : []
  if (Array.isArray(tree)) return tree.flatMap((item, i) => keysHolding(item, value, [...path, i]))
  if (tree !== null && typeof tree === 'object') return Object.entries(tree).flatMap(([k, item]) => keysHolding(item, value, [...path, k]))
  return []
}
