/**
 * Where log lines go by default: stdout (fd 1), lines joined into writes of at least 64 KiB
 * (or, with maxWrite, of at most that many bytes, cut at line ends),
 * one asynchronous write in flight at a time, the rest flushed every 250 ms and
 * synchronously before exit. The request path only appends a string to an array, or for an
 * access line the function that renders it: a batch renders its lines one after another when
 * it is written, where the same code runs hot, instead of one at a time between requests.
 * Replaces pino's sonic-boom destination, whose per-line length and buffer bookkeeping cost
 * about six times as much CPU per access line as this join-and-write (docs/performance.md).
 */
import { write, writeSync } from 'node:fs'

/** A pino destination with a synchronous flush for exit. */
export interface LineSink {
  write(line: string): void
  /**
   * Queues a line rendered when its batch is written, in order with the other lines. Under
   * maxWrite it is rendered at once (the cut at line ends needs its bytes), and so is every
   * line while MAX_DEFERRED are waiting. `render` must read only what no longer changes, and
   * must not throw: a line that does is left out and counted in droppedLines.
   */
  writeDeferred(render: () => string): void
  /**
   * Lines dropped since start: because maxPending were already waiting, or because their
   * renderer threw (the `log_lines_dropped_total` metric and its alert see both).
   */
  droppedLines(): number
  /**
   * Writes out everything buffered now, blocking. Returns false (writing nothing) while an
   * asynchronous write is still with the kernel: its bytes must go first, and only its
   * callback says how many went. Before exit, use `end`.
   */
  flushSync(): boolean
  /** Stops asynchronous writing, waits (at most `ms`) for the write in progress, then flushes synchronously. */
  end(ms?: number): Promise<void>
}

export interface LineSinkOptions {
  fd?: number
  /**
   * Bytes (UTF-16 units) gathered before a write starts (default 64 KiB). Each asynchronous
   * write is a round trip through libuv's thread pool (a pool thread wakes, writes, wakes the
   * loop back), whatever its size: at 4 KiB, one per ~10 access lines, that cost the realistic
   * path ~7 % in a same-window A/B (docs/performance.md).
   */
  minLength?: number
  /** Milliseconds after which gathered lines are written anyway (default 250). */
  periodMs?: number
  /**
   * Largest write in bytes, cut at line ends (a longer line goes alone). PIPE_BUF when other
   * processes write to the same pipe (`--workers`): the kernel keeps a pipe write of at most
   * PIPE_BUF bytes whole, while a larger one can be interleaved with another writer's, mid-line.
   */
  maxWrite?: number
  /**
   * Most UTF-16 units waiting at once (default 32 Mi, 32–64 MB): beyond it, while the output
   * takes nothing (a reader that stopped), new lines are dropped and counted rather than held
   * until the process runs out of memory.
   */
  maxPending?: number
  /** Lines were dropped since the last call; called once writes go through again. */
  onDropped?: (lines: number) => void
}

/** Linux's PIPE_BUF: a pipe write of at most this many bytes is never interleaved with another. */
export const PIPE_BUF = 4096

const RETRY_MS = 10
const DEFAULT_MIN_LENGTH = 64 * 1024
/**
 * Deferred lines held at most: a batch is ~150 access lines, so more means the output stopped
 * taking writes (a reader that fell behind). Later lines are then rendered at once, so what
 * piles up is strings, not the requests' records.
 */
const MAX_DEFERRED = 1024
const DEFAULT_MAX_PENDING = 32 * 1024 * 1024
const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** A deferred line that throws is dropped (undefined) rather than taking its batch (and the process) with it. */
function rendered(part: string | (() => string)): string | undefined {
  if (typeof part === 'string') return part
  try {
    return part()
  } catch {
    return undefined
  }
}

export function createLineSink(o: LineSinkOptions = {}): LineSink {
  const fd = o.fd ?? 1
  const minLength = o.minLength ?? DEFAULT_MIN_LENGTH
  const maxWrite = o.maxWrite
  const maxPending = o.maxPending ?? DEFAULT_MAX_PENDING
  let dropped = 0
  let reported = 0
  /** Deferred lines whose renderer threw: counted with the dropped, never reported as stdout's fault. */
  let unrendered = 0
  /** Lines, or (without maxWrite) functions that render them. */
  let parts: (string | (() => string))[] = []
  /** A deferred line's length for `size` until rendered: the last rendered one's. */
  let deferredLength = 512
  /** UTF-8 bytes of each part, kept only under maxWrite. */
  let bytes: number[] = []
  let size = 0
  /** Under maxWrite the period's flush takes several writes: keep writing until nothing is left. */
  let flushing = false
  /** The chunk being written and how much of it the kernel took. */
  let inFlight: Buffer | undefined
  let offset = 0
  /** An fs.write call is outstanding (in libuv's thread pool): only its callback knows how much it wrote. */
  let writing = false
  let retry: NodeJS.Timeout | undefined
  let ending: (() => void) | undefined
  /** The lines of the next write, removed from the gathered ones: all of them, or under maxWrite as many as fit. */
  const take = (): string => {
    if (maxWrite === undefined) {
      let all = ''
      for (const part of parts) {
        const line = rendered(part)
        if (line === undefined) {
          unrendered++
          continue
        }
        if (typeof part !== 'string' && line.length > 0) deferredLength = line.length
        all += line
      }
      parts = []
      size = 0
      return all
    }
    let n = 0
    let total = 0
    while (n < parts.length && (n === 0 || total + (bytes[n] as number) <= maxWrite)) total += bytes[n++] as number
    // Under maxWrite every part is a string (writeDeferred renders at once).
    const taken = parts.splice(0, n).join('')
    bytes.splice(0, n)
    size -= taken.length
    return taken
  }
  const next = (): void => {
    if (inFlight !== undefined || size === 0 || ending) return
    inFlight = Buffer.from(take(), 'utf8')
    offset = 0
    send()
  }
  const send = (): void => {
    retry = undefined
    const chunk = inFlight as Buffer
    writing = true
    write(fd, chunk, offset, chunk.length - offset, null, (err, n) => {
      writing = false
      if (!err) offset += n
      // end() waits: the synchronous flush writes the rest of this chunk, then the lines after it.
      if (ending) return ending()
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') return void (retry = setTimeout(send, RETRY_MS))
      // A closed stdout (EPIPE, EBADF): the chunk is lost, as a log line must never stop the gateway.
      if (!err && offset < chunk.length) return send()
      inFlight = undefined
      if (dropped > reported && size < maxPending) {
        const lines = dropped - reported
        reported = dropped
        o.onDropped?.(lines)
      }
      if (size === 0) flushing = false
      if (size >= minLength || flushing) next()
    })
  }
  const timer = setInterval(() => {
    flushing = maxWrite !== undefined
    next()
  }, o.periodMs ?? 250)
  timer.unref()
  /** Writes all of `data`, blocking; false when the output is gone (EPIPE, EBADF: the rest is dropped). */
  const writeAllSync = (data: Buffer): boolean => {
    for (let at = 0; at < data.length; ) {
      try {
        at += writeSync(fd, data, at, data.length - at)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return false
        sleep(RETRY_MS)
      }
    }
    return true
  }
  const flushSync = (): boolean => {
    if (writing) return false
    clearTimeout(retry)
    const rest = inFlight?.subarray(offset)
    inFlight = undefined
    let open = rest === undefined || writeAllSync(rest)
    while (open && size > 0) open = writeAllSync(Buffer.from(take(), 'utf8'))
    parts = []
    bytes = []
    size = 0
    flushing = false
    return true
  }
  function writeLine(line: string): void {
    if (size >= maxPending) return void dropped++
    parts.push(line)
    if (maxWrite !== undefined) bytes.push(Buffer.byteLength(line, 'utf8'))
    size += line.length
    if (size >= minLength) next()
  }
  return {
    write: writeLine,
    droppedLines: () => dropped + unrendered,
    writeDeferred(render) {
      // A line that will be dropped is not rendered first.
      if (size >= maxPending) return void dropped++
      if (maxWrite !== undefined || parts.length >= MAX_DEFERRED) {
        const line = rendered(render)
        return line === undefined ? void unrendered++ : writeLine(line)
      }
      parts.push(render)
      size += deferredLength
      if (size >= minLength) next()
    },
    flushSync,
    async end(ms = 2000) {
      clearInterval(timer)
      if (writing) {
        let deadline: NodeJS.Timeout | undefined
        await new Promise<void>((resolve) => {
          ending = resolve
          deadline = setTimeout(resolve, ms)
        })
        clearTimeout(deadline)
      }
      ending = () => {}
      // Past the deadline with the write still outstanding: its bytes may yet go; ours follow.
      writing = false
      flushSync()
    },
  }
}
