/**
 * YAML text with positions: turns a key path back into file:line:column so every
 * config error points at the place to fix.
 */
import { LineCounter, isMap, isSeq, isPair, isScalar, parseDocument, type Document, type Node } from 'yaml'
import type { ConfigProblem } from '../errors.js'

export type KeyPath = readonly (string | number)[]

/** `['endpoints', 2, 'tls', 'minVersion']` → `endpoints[2].tls.minVersion`. */
export function formatKeyPath(path: KeyPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? part : `.${part}`
  }
  return out
}

/** `endpoints[2].tls.minVersion` → `['endpoints', 2, 'tls', 'minVersion']`: formatKeyPath undone. */
export function parseKeyPath(key: string): KeyPath {
  return [...key.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : (m[1] as string)))
}

export class YamlSource {
  readonly file: string
  readonly value: unknown
  readonly problems: ConfigProblem[] = []
  readonly #doc: Document
  readonly #lines = new LineCounter()

  constructor(file: string, text: string) {
    this.file = file
    this.#doc = parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true, prettyErrors: false })
    const before = this.problems.length
    this.#duplicateKeys(this.#doc.contents, [])
    // yaml's own words name neither the key nor where it was first: #duplicateKeys does, for scalar keys.
    const named = this.problems.length > before
    for (const err of [...this.#doc.errors, ...this.#doc.warnings]) {
      if (err.code === 'DUPLICATE_KEY' && named) continue
      const pos = this.#lines.linePos(err.pos[0])
      const msg = err.message.split('\n')[0] ?? err.message
      this.problems.push({ file, line: pos.line, column: pos.col, key: '', msg: `YAML: ${msg}` })
    }
    this.value = this.problems.length === 0 ? this.#doc.toJS({ maxAliasCount: 100 }) : undefined
  }

  /** Line and column of the value at `path` (or of its key when `atKey`), else of the nearest parent. */
  position(path: KeyPath, atKey = false): { line: number; column: number } {
    let node: unknown = this.#doc.contents
    let best = this.#offsetOf(node)
    for (const part of path) {
      let next: unknown
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === part)
        if (pair === undefined) break
        if (atKey && part === path[path.length - 1]) {
          best = this.#offsetOf(pair.key) ?? best
          break
        }
        next = pair.value
        best = this.#offsetOf(pair.value) ?? this.#offsetOf(pair.key) ?? best
      } else if (isSeq(node) && typeof part === 'number') {
        next = node.items[part]
        best = this.#offsetOf(next) ?? best
      } else break
      node = next
    }
    const pos = this.#lines.linePos(best ?? 0)
    return { line: pos.line, column: pos.col }
  }

  /**
   * Where a problem found after the load points for `path`: its value when that starts on its
   * key's line (a scalar, a flow collection), else its key (a block mapping or list begins on
   * the next line, under another key); a key left to its default, its nearest written parent.
   */
  placement(path: KeyPath): { line: number; column: number } {
    const value = this.position(path)
    const key = this.position(path, true)
    return key.line < value.line ? key : value
  }

  problem(path: KeyPath, msg: string, atKey = false): ConfigProblem {
    const { line, column } = this.position(path, atKey)
    return { file: this.file, line, column, key: formatKeyPath(path), msg }
  }

  /** Each key written twice in one mapping, at its second spelling, naming the line of its first. */
  #duplicateKeys(node: unknown, path: (string | number)[]): void {
    if (isSeq(node)) node.items.forEach((item, i) => this.#duplicateKeys(item, [...path, i]))
    if (!isMap(node)) return
    const first = new Map<unknown, number>()
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined
      if (key === undefined) continue
      const at = this.#offsetOf(pair.key) ?? 0
      const seen = first.get(key)
      if (seen === undefined) {
        first.set(key, at)
        this.#duplicateKeys(pair.value, [...path, String(key)])
        continue
      }
      const pos = this.#lines.linePos(at)
      const msg = `YAML: duplicate key ${JSON.stringify(String(key))} (first at line ${this.#lines.linePos(seen).line}): keep one`
      this.problems.push({ file: this.file, line: pos.line, column: pos.col, key: formatKeyPath([...path, String(key)]), msg })
    }
  }

  #offsetOf(node: unknown): number | undefined {
    const range = (node as Node | null | undefined)?.range
    return range ? range[0] : undefined
  }
}
