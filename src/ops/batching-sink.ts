/** The line sink createLineSink makes (log-sink.ts says what it does and why). */
import { write, writeSync } from 'node:fs'
import { boundedLine } from './bounded-line.js'
import { encodedLines } from './encoded-lines.js'
import type { LineSink, LineSinkOptions } from './log-sink.js'

const RETRY_MS = 10
const DEFAULT_MIN_LENGTH = 64 * 1024
/**
 * Deferred lines held at most: a batch is ~150 access lines, so more means the output stopped taking
 * writes (a reader that fell behind). Later lines are then rendered at once: strings pile up, not records.
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

/** Lines gathered as strings or renderers, one asynchronous fs.write at a time, a period's flush, a synchronous end. */
export class BatchingSink implements LineSink {
  readonly #o: LineSinkOptions
  readonly #fd: number
  readonly #minLength: number
  readonly #maxWrite: number | undefined
  readonly #maxPending: number
  readonly #timer: NodeJS.Timeout
  #dropped = 0
  #reported = 0
  /** Deferred lines whose renderer threw: counted with the dropped, never reported as stdout's fault. */
  #unrendered = 0
  /** Lines, or (without maxWrite) functions that render them. */
  #parts: (string | (() => string))[] = []
  /** A deferred line's length for `size` until rendered: the last rendered one's. */
  #deferredLength = 512
  /** UTF-8 bytes of each part, kept only under maxWrite. */
  #bytes: number[] = []
  #size = 0
  /** Under maxWrite the period's flush takes several writes: keep writing until nothing is left. */
  #flushing = false
  /** The chunk being written and how much of it the kernel took. */
  #inFlight: Buffer | undefined = undefined
  #offset = 0
  /** An fs.write call is outstanding (in libuv's thread pool): only its callback knows how much it wrote. */
  #writing = false
  #retry: NodeJS.Timeout | undefined = undefined
  #ending: (() => void) | undefined = undefined

  constructor(o: LineSinkOptions) {
    this.#o = o
    this.#fd = o.fd ?? 1
    this.#minLength = o.minLength ?? DEFAULT_MIN_LENGTH
    this.#maxWrite = o.maxWrite
    this.#maxPending = o.maxPending ?? DEFAULT_MAX_PENDING
    this.#timer = setInterval(() => {
      this.#flushing = this.#maxWrite !== undefined
      this.#next()
    }, o.periodMs ?? 250)
    this.#timer.unref()
  }

  write(text: string): void {
    if (this.#size >= this.#maxPending) return void this.#dropped++
    const n = this.#maxWrite === undefined ? 0 : Buffer.byteLength(text, 'utf8')
    const line = n > (this.#maxWrite as number) ? boundedLine(text, this.#maxWrite as number) : text // never longer than one write
    this.#parts.push(line)
    if (this.#maxWrite !== undefined) this.#bytes.push(line === text ? n : Buffer.byteLength(line, 'utf8'))
    this.#size += line.length
    if (this.#size >= this.#minLength) this.#next()
  }

  writeDeferred(render: () => string): void {
    // A line that will be dropped is not rendered first.
    if (this.#size >= this.#maxPending) return void this.#dropped++
    if (this.#maxWrite !== undefined || this.#parts.length >= MAX_DEFERRED) {
      const line = rendered(render)
      return line === undefined ? void this.#unrendered++ : this.write(line)
    }
    this.#parts.push(render)
    this.#size += this.#deferredLength
    if (this.#size >= this.#minLength) this.#next()
  }

  droppedLines(): number {
    return this.#dropped + this.#unrendered
  }

  flushSync(): boolean {
    if (this.#writing) return false
    clearTimeout(this.#retry)
    const rest = this.#inFlight?.subarray(this.#offset)
    this.#inFlight = undefined
    let open = rest === undefined || writeAllSync(this.#fd, rest)
    while (open && this.#size > 0) open = writeAllSync(this.#fd, this.#take())
    this.#parts = []
    this.#bytes = []
    this.#size = 0
    this.#flushing = false
    return true
  }

  async end(ms = 2000): Promise<void> {
    clearInterval(this.#timer)
    if (this.#writing) {
      let deadline: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#ending = resolve
        deadline = setTimeout(resolve, ms)
      })
      clearTimeout(deadline)
    }
    this.#ending = () => {}
    // Past the deadline with the write still outstanding: its bytes may yet go; ours follow.
    this.#writing = false
    this.flushSync()
  }

  /** The bytes of the next write, removed from the gathered lines: all of them, or under maxWrite as many as fit. */
  #take(): Buffer {
    return this.#maxWrite === undefined ? this.#takeAll() : Buffer.from(this.#takeUpTo(this.#maxWrite), 'utf8')
  }

  #takeAll(): Buffer {
    const lines: string[] = []
    for (const part of this.#parts) {
      const line = rendered(part)
      if (line === undefined) this.#unrendered++
      else lines.push(line)
      if (typeof part !== 'string' && line) this.#deferredLength = line.length
    }
    this.#parts = []
    this.#size = 0
    return encodedLines(lines)
  }

  #takeUpTo(maxWrite: number): string {
    let n = 0
    let total = 0
    while (n < this.#parts.length && (n === 0 || total + (this.#bytes[n] as number) <= maxWrite)) total += this.#bytes[n++] as number
    // Under maxWrite every part is a string (writeDeferred renders at once).
    const taken = this.#parts.splice(0, n).join('')
    this.#bytes.splice(0, n)
    this.#size -= taken.length
    return taken
  }

  #next(): void {
    if (this.#inFlight !== undefined || this.#size === 0 || this.#ending) return
    this.#inFlight = this.#take()
    this.#offset = 0
    this.#send()
  }

  #send(): void {
    this.#retry = undefined
    const chunk = this.#inFlight as Buffer
    this.#writing = true
    write(this.#fd, chunk, this.#offset, chunk.length - this.#offset, null, (err, n) => this.#written(chunk, err, n))
  }

  #written(chunk: Buffer, err: NodeJS.ErrnoException | null, n: number): void {
    this.#writing = false
    if (!err) this.#offset += n
    // end() waits: the synchronous flush writes the rest of this chunk, then the lines after it.
    if (this.#ending) return this.#ending()
    if (err && err.code === 'EAGAIN') return void (this.#retry = setTimeout(() => this.#send(), RETRY_MS))
    // A closed stdout (EPIPE, EBADF): the chunk is lost, as a log line must never stop the gateway.
    if (!err && this.#offset < chunk.length) return this.#send()
    this.#inFlight = undefined
    if (this.#dropped > this.#reported && this.#size < this.#maxPending) {
      const lines = this.#dropped - this.#reported
      this.#reported = this.#dropped
      this.#o.onDropped?.(lines)
    }
    if (this.#size === 0) this.#flushing = false
    if (this.#size >= this.#minLength || this.#flushing) this.#next()
  }
}

/** Writes all of `data` to `fd`, blocking; false when the output is gone (EPIPE, EBADF: the rest is dropped). */
function writeAllSync(fd: number, data: Buffer): boolean {
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
