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
import { BatchingSink } from './batching-sink.js'

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
   * Largest write in bytes, cut at line ends (a longer line is cut to fit: bounded-line.ts). PIPE_BUF when other
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

/** The default log destination (see the file's comment); `o` as LineSinkOptions describes. */
export function createLineSink(o: LineSinkOptions = {}): LineSink {
  return new BatchingSink(o)
}
