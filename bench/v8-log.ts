/**
 * `--v8-log ic|maps`: the proxies run with V8's `--log-ic` or `--log-maps`, and each log is read
 * back into the few lines that say whether objects on the request path keep their shapes.
 *
 * - ic: every inline-cache miss V8 handled in the runtime, by site (function, line:column,
 *   property). A site that misses about once per request reads objects whose maps keep
 *   changing (docs/performance.md, session 9).
 * - maps: maps V8 had to copy because it could not add a transition (`CopyAddDescriptor`), by
 *   the key being added, and the most transitions logged from one map (V8 keeps at most 1,536).
 *   Copies after start-up mean objects that each get a map of their own.
 *
 * Session 9 found both problems with these logs by hand (through a wrapper script, since
 * `--log-ic` and `--log-maps` are refused in NODE_OPTIONS). This makes the check one flag.
 */

import { closeSync, openSync, readSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'

/** One site of inline-cache misses. */
export interface IcSite {
  kind: string
  fn: string
  at: string
  key: string
  misses: number
}

/** What one process's log says. */
export interface V8LogSummary {
  /** The script the process ran (its first script under dist/), or '?'. */
  script: string
  icMisses: number
  /** Sites by misses, most first. */
  icSites: IcSite[]
  /** Maps copied for want of a transition, by key, most first. */
  copies: { key: string; count: number }[]
  copiesTotal: number
  /** The most transitions logged from any one map. */
  mostTransitions: number
}

interface Code {
  start: number
  size: number
  name: string
}

/** The function holding `pc`, from the code objects logged so far. */
function functionAt(codes: Code[], pc: number): string {
  let lo = 0
  let hi = codes.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const c = codes[mid] as Code
    if (pc < c.start) hi = mid - 1
    else if (pc >= c.start + c.size) lo = mid + 1
    else return c.name
  }
  return '?'
}

const shortName = (name: string): string => name.replace(/file:\/\/\S*\/(dist|node_modules)\//, '$1/').replace(/ \/\S*\/node_modules\//, ' node_modules/')

/** A file's lines, read 1 MiB at a time: an IC log grows by megabytes a second, past what one string holds. */
export function* fileLines(file: string): Generator<string> {
  const fd = openSync(file, 'r')
  const buffer = Buffer.alloc(1 << 20)
  const decoder = new StringDecoder('utf8')
  let rest = ''
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
      const lines = (rest + decoder.write(buffer.subarray(0, n))).split('\n')
      rest = lines.pop() ?? ''
      yield* lines
    }
    rest += decoder.end()
    if (rest !== '') yield rest
  } finally {
    closeSync(fd)
  }
}

/** Reads a V8 log (`--log-ic` or `--log-maps`), as text or as lines; `top` limits the lists. */
export function summarizeV8Log(log: string | Iterable<string>, top = 10): V8LogSummary {
  // Code objects by start address; sorted into `codes` when an IC line needs a lookup.
  const byStart = new Map<number, Code>()
  let codes: Code[] = []
  let sorted = true
  const sites = new Map<string, IcSite>()
  const copies = new Map<string, number>()
  const transitions = new Map<string, number>()
  let script = '?'
  let icMisses = 0
  let copiesTotal = 0
  for (const line of typeof log === 'string' ? log.split('\n') : log) {
    const f = line.split(',')
    const kind = f[0] as string
    if (kind === 'code-creation' && f.length > 6) {
      const start = Number.parseInt(f[4] as string, 16)
      const name = f.slice(6, f.length > 8 ? -2 : undefined).join(',')
      if (script === '?' && f[1] === 'Script') {
        const m = /\/dist\/(\S+\.js):1:1/.exec(name)
        if (m) script = m[1] as string
      }
      byStart.set(start, { start, size: Number(f[5]), name })
      sorted = false
    } else if (kind === 'code-move' && f.length >= 3) {
      const from = byStart.get(Number.parseInt(f[1] as string, 16))
      if (from) {
        const start = Number.parseInt(f[2] as string, 16)
        byStart.delete(from.start)
        byStart.set(start, { start, size: from.size, name: from.name })
        sorted = false
      }
    } else if (kind.endsWith('IC') && f.length > 9) {
      if (!sorted) {
        codes = [...byStart.values()].sort((a, b) => a.start - b.start)
        sorted = true
      }
      icMisses++
      const fn = shortName(functionAt(codes, Number.parseInt(f[1] as string, 16)))
      const at = `${f[3]}:${f[4]}`
      const key = f[8] as string
      const id = `${kind}|${fn}|${at}|${key}`
      const site = sites.get(id) ?? { kind, fn, at, key, misses: 0 }
      site.misses++
      sites.set(id, site)
    } else if (kind === 'map' && f[1] === 'Transition' && f.length > 3) {
      const from = f[3] as string
      transitions.set(from, (transitions.get(from) ?? 0) + 1)
    } else if (kind === 'map' && f[1] === 'ReplaceDescriptors' && f[8] === 'CopyAddDescriptor') {
      const key = f.slice(9).join(',')
      copies.set(key, (copies.get(key) ?? 0) + 1)
      copiesTotal++
    }
  }
  return {
    script,
    icMisses,
    icSites: [...sites.values()].sort((a, b) => b.misses - a.misses).slice(0, top),
    copies: [...copies].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count).slice(0, top),
    copiesTotal,
    mostTransitions: Math.max(0, ...transitions.values()),
  }
}

/** The summaries as Markdown, one block per process. */
export function v8LogMarkdown(mode: 'ic' | 'maps', logs: readonly { file: string; summary: V8LogSummary }[]): string {
  const out: string[] = []
  for (const { file, summary: s } of logs) {
    if (mode === 'ic') {
      out.push(`- ${s.script} (${file}): ${s.icMisses} inline-cache misses handled in the runtime; most frequent sites:`, '', '| misses | kind | function | line:col | property |', '|--:|---|---|---|---|')
      for (const x of s.icSites) out.push(`| ${x.misses} | ${x.kind} | ${x.fn.replace(/\|/g, '\\|')} | ${x.at} | ${x.key} |`)
    } else {
      out.push(`- ${s.script} (${file}): most transitions from one map ${s.mostTransitions} (V8 keeps at most 1,536); ${s.copiesTotal} maps copied for want of a transition; most frequent keys:`, '', '| copies | key |', '|--:|---|')
      for (const x of s.copies) out.push(`| ${x.count} | ${x.key.replace(/\|/g, '\\|') || '(none)'} |`)
    }
    out.push('')
  }
  return out.join('\n')
}
