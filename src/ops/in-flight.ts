/**
 * In-flight requests per Gateway snapshot, so a reload closes the old snapshot's pools only
 * when nothing pinned to it is still running, and drain knows what it is waiting for. A request
 * counts from when it pins its snapshot (its turn on its connection, pin-snapshot.ts) until its
 * response closes: one pipelined behind another waits unpinned, and may pin a later snapshot.
 */
import type { ServerResponse } from 'node:http'
import type { GatewayError } from '../errors.js'
import type { Gateway } from '../gateway/index.js'
import { observePins } from '../proxy/pin-snapshot.js'
import type { LaneEnd } from '../proxy/pipelined.js'
import { endRequest } from '../proxy/request-expiry.js'
import { endRequestsNotStarted } from '../proxy/server-closers.js'
import { RunningList } from '../runtime/index.js'

/** Requests in flight, per pinned snapshot. */
export interface InFlight {
  /** Requests running now, over all snapshots. */
  readonly total: number
  /** Resolves when no request pinned to `gateway` is running. */
  idle(gateway: Gateway): Promise<void>
  /** Counts work pinned to `gateway` outside the listener's requests (e.g. a CONNECT tunnel); call the result once when done. */
  hold(gateway: Gateway): () => void
  /**
   * Ends every request still running with `err` (its answer where nothing was sent, else its
   * connection cut), and those not started on any connection with `notStarted`: pipelined behind
   * one (one handed its turn in this very event-loop turn included) with its `waiting`, any
   * arriving from now on with its `arriving` (answered), so each still gets its access line;
   * resolves once the running ones' responses closed, or after `waitMs`. Returns how many running
   * requests it ended.
   */
  end(err: GatewayError, notStarted: LaneEnd, waitMs: number): Promise<number>
  /** Stops counting new requests. */
  stop(): void
}

/** Counts requests of `server` against the snapshot each one pinned. */
export function trackInFlight(server: object, onChange?: (delta: 1 | -1) => void): InFlight {
  const counts = new Map<Gateway, number>()
  const waiters = new Map<Gateway, (() => void)[]>()
  let total = 0
  // The responses running now, for a drain whose grace ran out (end): a list, not a Set (runtime/running-list.ts).
  const running = new RunningList<ServerResponse>()
  const hold = (gateway: Gateway): (() => void) => {
    counts.set(gateway, (counts.get(gateway) ?? 0) + 1)
    total++
    onChange?.(1)
    let released = false
    return () => {
      if (released) return
      released = true
      total--
      onChange?.(-1)
      const left = (counts.get(gateway) ?? 1) - 1
      if (left > 0) return void counts.set(gateway, left)
      counts.delete(gateway)
      for (const wake of waiters.get(gateway) ?? []) wake()
      waiters.delete(gateway)
    }
  }
  // Told by the listener with the very snapshot the request pinned. 'on': a response closes once; once() would add a wrapper and a removal per request.
  const stop = observePins(server, (gateway, res) => void res.on('close', runs(running, res, hold(gateway))))
  return {
    get total() {
      return total
    },
    idle(gateway) {
      if (!counts.has(gateway)) return Promise.resolve()
      return new Promise((resolve) => waiters.set(gateway, [...(waiters.get(gateway) ?? []), resolve]))
    },
    hold,
    end: (err, notStarted, waitMs) => endRunning(server, running, err, notStarted, waitMs),
    stop,
  }
}

/** Adds `res` to `running`; returns its 'close' handler, which removes it and calls `release`. */
function runs(running: RunningList<ServerResponse>, res: ServerResponse, release: () => void): () => void {
  const entry = running.add(res)
  return () => void (running.remove(entry), release())
}

/** Ends each of `running` with `err`, and what is not started on `server`'s connections with `notStarted`; resolves when the running ones all closed, or after `waitMs`. */
async function endRunning(server: object, running: RunningList<ServerResponse>, err: GatewayError, notStarted: LaneEnd, waitMs: number): Promise<number> {
  // Every connection, not only those of the running ones: a request handed its turn (a turn later) between two pipelined ones is
  // running nowhere yet, and one whose head completes before the connections close (in waitMs at most) must not start.
  endRequestsNotStarted(server, notStarted)
  const ended = running.items().filter((res) => endRequest(res, err, { waiting: notStarted.waiting }))
  if (running.size === 0) return ended.length
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs)
    let open = running.size
    for (const res of running.items()) res.once('close', () => void (--open === 0 && (clearTimeout(timer), resolve())))
  })
  return ended.length
}
