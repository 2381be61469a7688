/**
 * Where log lines go by default: stdout (fd 1), lines joined into writes of at least 64 KiB,
 * one asynchronous write in flight at a time, the rest flushed every 250 ms and
 * synchronously before exit. The request path only appends a string to an array. Replaces
 * pino's sonic-boom destination, whose per-line length and buffer bookkeeping cost about
 * six times as much CPU per access line as this join-and-write (docs/performance.md).
 */
import { write, writeSync } from 'node:fs'

/** A pino destination with a synchronous flush for exit. */
export interface LineSink {
  write(line: string): void
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
}

const RETRY_MS = 10
const DEFAULT_MIN_LENGTH = 64 * 1024
const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

export function createLineSink(o: LineSinkOptions = {}): LineSink {
  const fd = o.fd ?? 1
  const minLength = o.minLength ?? DEFAULT_MIN_LENGTH
  let parts: string[] = []
  let size = 0
  /** The chunk being written and how much of it the kernel took. */
  let inFlight: Buffer | undefined
  let offset = 0
  /** An fs.write call is outstanding (in libuv's thread pool): only its callback knows how much it wrote. */
  let writing = false
  let retry: NodeJS.Timeout | undefined
  let ending: (() => void) | undefined
  const next = (): void => {
    if (inFlight !== undefined || size === 0 || ending) return
    inFlight = Buffer.from(parts.length === 1 ? (parts[0] as string) : parts.join(''), 'utf8')
    offset = 0
    parts = []
    size = 0
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
      if (size >= minLength) next()
    })
  }
  const timer = setInterval(next, o.periodMs ?? 250)
  timer.unref()
  const flushSync = (): boolean => {
    if (writing) return false
    clearTimeout(retry)
    const data = Buffer.concat([inFlight?.subarray(offset) ?? Buffer.alloc(0), Buffer.from(parts.join(''), 'utf8')])
    inFlight = undefined
    parts = []
    size = 0
    for (let at = 0; at < data.length; ) {
      try {
        at += writeSync(fd, data, at, data.length - at)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return true
        sleep(RETRY_MS)
      }
    }
    return true
  }
  return {
    write(line) {
      parts.push(line)
      size += line.length
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
