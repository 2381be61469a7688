/**
 * The Redis store's one write path (RedisStore's writes go through it): one write and its WAIT
 * (redis-write.ts), the request's replica shortfall (request-wait.ts), and which failures Redis
 * may have run all the same (Store.mayHaveLanded).
 */
import type { Command } from 'ioredis'
import { GatewayError } from '../errors.js'
import type { RedisClient } from './redis-client.js'
import type { ReplicaAcknowledgement } from './redis-store-options.js'
import { execWrite, writeNeverRan, type RedisWrite } from './redis-write.js'
import { rememberUnconfirmedWrite, unconfirmedWriteOfRequest } from './request-wait.js'
import { UNREACHABLE } from './store.js'

/** An operation past its deadline: the client may still write or answer it. */
export class NoAnswerInTime extends Error {}

/** What the write path needs of its store. */
export interface WriteContext {
  readonly redis: RedisClient
  readonly ack: ReplicaAcknowledgement | undefined
  readonly where: string
  /** The store's bounded operation (its deadline rejects with NoAnswerInTime), failures as store_unavailable. */
  run<T>(op: string, fn: () => Promise<T>): Promise<T>
  /** A write went through (a READONLY answer before it is over). */
  wrote(): void
}

/** The writes of one store, and the failures of those Redis may have run. */
export class StoreWrites {
  readonly #c: WriteContext
  readonly #mayHaveRun = new WeakSet<Error>()

  constructor(c: WriteContext) {
    this.#c = c
  }

  /** Whether a write that failed with `failure` may have run all the same (any other failure wrote nothing). */
  mayHaveRun(failure: unknown): boolean {
    return failure instanceof Error && this.#mayHaveRun.has(failure)
  }

  /**
   * One write, then — when replicas must acknowledge it — WAIT on the same connection (a failover cannot
   * lose a write `replicas` replicas hold); none after a write of the request fell short (request-wait.ts).
   * `answerStands`: the reply is returned when replicas fell short all the same (remembered for the request).
   */
  async write(op: string, key: string, write: RedisWrite, answerStands = false): Promise<unknown> {
    const c = this.#c
    const earlier = c.ack && unconfirmedWriteOfRequest()
    const ack = earlier === undefined ? c.ack : undefined
    const sent: Command[] = []
    let started = false
    let replies: unknown[]
    try {
      replies = await c.run(op, () => {
        started = true
        return execWrite(c.redis, key, write, ack, sent)
      })
    } catch (e) {
      throw this.#failed(e, started, sent)
    }
    const [reply, confirmed] = replies
    c.wrote()
    const shortfall = ack !== undefined && (confirmed as number) < ack.replicas ? rememberUnconfirmedWrite(`${op} reached ${String(confirmed)} of ${ack.replicas} replicas within ${ack.timeoutMs} ms`) : undefined
    const unconfirmed = shortfall ?? (earlier && `${op} sent without waiting for replicas (earlier in this request, ${earlier})`)
    if (unconfirmed !== undefined && !answerStands) {
      const landed = new GatewayError('store_unavailable', `redis store ${c.where}: ${unconfirmed}; not acknowledged`, { callerMessage: UNREACHABLE })
      this.#mayHaveRun.add(landed)
      throw landed
    }
    return reply
  }

  /**
   * A write's failure, kept as one Redis may have run when execWrite sent a command not redirected
   * (MOVED, ASK) and neither our deadline (the command may still be queued or unanswered) nor
   * writeNeverRan rules it out.
   * One refused before it was handed over (the request's earlier failure, a closed store) is a fresh
   * error: the request's failure it repeats may belong to a write that may have run.
   */
  #failed(e: unknown, started: boolean, sent: readonly Command[]): unknown {
    if (!started) return e instanceof GatewayError ? new GatewayError(e.reason, e.message, { cause: e, callerMessage: e.callerMessage }) : e
    if (e instanceof Error && sent.length > 0 && (e.cause instanceof NoAnswerInTime || !writeNeverRan(e.cause, sent))) this.#mayHaveRun.add(e)
    return e
  }
}
