/**
 * Reading a spawned gateway's log lines soundly. Each process writes its lines in batches (every
 * 250 ms or 64 KiB, later on a loaded machine; workers each their own), so the line of what just
 * happened may not be out yet: a read of lines that must be there waits for them to appear, and a
 * read that a line is absent (or there only once) waits for the output to end.
 */
import { randomUUID } from 'node:crypto'
import { eventually, DEFAULT_DEADLINE_MS } from './eventually.js'
import type { GatewayProcess } from './process.js'

/** One parsed JSON log line. */
export type LogEntry = Record<string, unknown>

/** Where to read from and how long to wait. */
export interface EntriesOptions {
  /** Output line to read from (gp.output.length before the action). */
  from?: number
  timeoutMs?: number
  what?: string
}

/** Waits until at least `count` entries (from output line `from`) match, and returns the matching ones. */
export function entriesWhen(gp: GatewayProcess, match: (e: LogEntry) => boolean, count: number, o: EntriesOptions = {}): Promise<LogEntry[]> {
  return eventually(() => {
    const found = gp.logEntries(o.from).filter(match)
    return found.length >= count && found
  }, o.timeoutMs ?? DEFAULT_DEADLINE_MS, o.what ?? `${count} matching log line(s)`)
}

/**
 * Every entry the process will ever write (from output line `from`): ends it with SIGTERM (a
 * drain: each process writes out its last batch) unless it already exited, and waits until its
 * output ended. What a check that a line is absent, or there once, reads.
 */
export async function finalEntries(gp: GatewayProcess, from = 0): Promise<LogEntry[]> {
  if (gp.child.exitCode === null && gp.child.signalCode === null) gp.child.kill('SIGTERM')
  await gp.ended
  return gp.logEntries(from)
}

/**
 * Makes calls (`call(tag)`: a request sent with X-Request-Id `tag`, on a connection of its own) until
 * each of `pids` wrote the access line of one: every line those processes wrote before is out then,
 * so a check that one of them said nothing can be read without stopping the gateway. Returns the
 * tags used: their access lines are this barrier's own.
 */
export function flushedBy(gp: GatewayProcess, pids: readonly number[], call: (tag: string) => Promise<unknown>, timeoutMs = 60_000): Promise<Set<string>> {
  return answeredBy(gp, pids, call, () => true, 'an access line', timeoutMs)
}

/**
 * Makes calls as flushedBy does until each of `pids` gave an answer that `shows` (each process known
 * by the access line of its call): how a test waits for a reload's effect in every worker. A
 * `config reloaded` line is no such proof: one file write can make two reloads (SIGHUP and the
 * directory watcher), so a line read after a later write may be an earlier write's second reload.
 * An instance runs its reloads one after another, so a worker that showed the new config keeps it.
 * Returns the tags used.
 */
export async function answeredBy<T>(gp: GatewayProcess, pids: readonly number[], call: (tag: string) => Promise<T>, shows: (answer: T) => boolean, what: string, timeoutMs = 60_000): Promise<Set<string>> {
  const tags = new Set<string>()
  const left = new Set(pids)
  const end = Date.now() + timeoutMs
  while (left.size > 0) {
    if (Date.now() > end) throw new Error(`no answer showing ${what} from ${[...left].join(', ')} within ${timeoutMs} ms`)
    const tag = `flush-${randomUUID()}`
    tags.add(tag)
    const answer = await call(tag)
    const [line] = await entriesWhen(gp, (e) => e.msg === 'request' && e.reqId === tag, 1, { what: `the access line of ${tag}` })
    if (shows(answer)) left.delete(line?.pid as number)
  }
  return tags
}

/** How answersFromEach knows a call's access line: made before the call, given its tag. */
export type LineOfCall = (tag: string) => (e: LogEntry) => boolean

/** A call's access line: the one with its tag as X-Request-Id. */
const taggedLine: LineOfCall = (tag) => (e) => e.msg === 'request' && e.reqId === tag

/**
 * Makes calls (`call(tag)`: by default a request with X-Request-Id `tag` on a fresh connection)
 * until each of `pids` wrote the access line of one, at most `maxCalls`: how a test sees every
 * worker answer (fresh connections are handed out in turn, so a fixed number of calls may all meet
 * one worker). Bounded by calls, not time. Returns every answer the calls got.
 */
export async function answersFromEach<T>(gp: GatewayProcess, pids: readonly number[], call: (tag: string) => Promise<T>, lineOf: LineOfCall = taggedLine, maxCalls = 40): Promise<T[]> {
  const answers: T[] = []
  const left = new Set(pids)
  while (left.size > 0) {
    if (answers.length >= maxCalls) throw new Error(`no answer from ${[...left].join(', ')} in ${maxCalls} calls`)
    const tag = `each-${randomUUID()}`
    const isLine = lineOf(tag)
    answers.push(await call(tag))
    const [line] = await entriesWhen(gp, isLine, 1, { what: `the access line of ${tag}` })
    left.delete(line?.pid as number)
  }
  return answers
}
