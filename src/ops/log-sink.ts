/**
 * Where log lines go by default: stdout (fd 1), lines joined into writes of at least 4 KiB,
 * one asynchronous write in flight at a time, the rest flushed every 250 ms and
 * synchronously before exit. The request path only appends a string to an array. Replaces
 * pino's sonic-boom destination, whose per-line length and buffer bookkeeping cost about
 * six times as much CPU per access line as this join-and-write (docs/performance.md).
 */
import { write, writeSync } from 'node:fs'

/** A pino destination with a synchronous flush for exit. */
export interface LineSink {
  write(line: string): void
  /** Writes out everything buffered now, blocking; for process exit. */
  flushSync(): void
}

export interface LineSinkOptions {
  fd?: number
  /** Bytes (UTF-16 units) gathered before a write starts (default 4096). */
  minLength?: number
  /** Milliseconds after which gathered lines are written anyway (default 250). */
  periodMs?: number
}

const RETRY_MS = 10
const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

export function createLineSink(o: LineSinkOptions = {}): LineSink {
  const fd = o.fd ?? 1
  const minLength = o.minLength ?? 4096
  let parts: string[] = []
  let size = 0
  /** The chunk handed to the kernel and not yet confirmed, and how much of it is written. */
  let inFlight: Buffer | undefined
  const next = (): void => {
    if (inFlight !== undefined || size === 0) return
    inFlight = Buffer.from(parts.length === 1 ? (parts[0] as string) : parts.join(''), 'utf8')
    parts = []
    size = 0
    send(0)
  }
  const send = (offset: number): void => {
    const chunk = inFlight as Buffer
    write(fd, chunk, offset, chunk.length - offset, null, (err, n) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(() => send(offset), RETRY_MS)
      // A closed stdout (EPIPE, EBADF): the chunk is lost, as a log line must never stop the gateway.
      if (!err && offset + n < chunk.length) return send(offset + n)
      inFlight = undefined
      if (size >= minLength) next()
    })
  }
  const timer = setInterval(next, o.periodMs ?? 250)
  timer.unref()
  return {
    write(line) {
      parts.push(line)
      size += line.length
      if (size >= minLength) next()
    },
    flushSync() {
      const data = Buffer.from(parts.join(''), 'utf8')
      parts = []
      size = 0
      for (let offset = 0; offset < data.length; ) {
        try {
          offset += writeSync(fd, data, offset, data.length - offset)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return
          sleep(RETRY_MS)
        }
      }
    },
  }
}
