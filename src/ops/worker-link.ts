/**
 * The IPC between the cluster primary and its workers: a worker announces its URL, answers
 * the primary's questions (its metrics, its readiness) and reloads when told, from the config
 * source the primary read (and answers how that went). Questions carry an id and a deadline,
 * so a worker that just crashed delays a scrape by at most the timeout and never fails it.
 */
import cluster, { type Worker } from 'node:cluster'
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client'
import type { Readiness } from './admin.js'
import type { HandshakeFacts } from './admin-facts.js'
import type { RunningOps } from './ops.js'
import type { ReloadResult } from './reload.js'
import type { ConfigFileSnapshot, ConfigSource, StoreSettings } from '../config/index.js'
import type { Degradation } from './degradation-log.js'
import type { ListenerBinding } from '../proxy/bind-listener.js'

/**
 * A reload the primary relays: the config text and the bytes of every file it references, as
 * the primary read and judged them once (the worker never reads the disk for it). The primary
 * relays one at a time and only to serving workers, never while one starts (reload-coordinator.ts),
 * so a worker gets them in order and none misses one: there is nothing to catch up or compare.
 */
export type RelayedReload = ConfigSource & { trigger: string }

/** What the primary can ask a worker; a relayed reload is answered with its ReloadResult. */
export type Question = 'metrics' | 'readiness' | 'handshakes' | 'alive' | { reload: RelayedReload }

/** Messages a worker sends. */
export type WorkerMessage =
  | ({ type: 'mtls-gateway:listening' } & ListenerBinding)
  | { type: 'mtls-gateway:answer'; id: number; value: unknown }
  | { type: 'mtls-gateway:start-failed'; line: string }
  | { type: 'mtls-gateway:config-request' }
  /** The refusals its snapshot makes now (degradation-log.ts), sent when they change: the primary logs the instance's changes. */
  | { type: 'mtls-gateway:degradations'; degradations: Degradation[] }

/** Worker side: hands the reason a start failed to the primary (which prints it), resolving once sent. */
export async function reportStartFailure(line: string): Promise<void> {
  if (!process.connected || process.send === undefined) return
  const message: WorkerMessage = { type: 'mtls-gateway:start-failed', line }
  await new Promise<void>((resolve) => void process.send?.(message, undefined, {}, () => resolve()))
}

/** Messages the primary sends. */
export type PrimaryMessage =
  | { type: 'mtls-gateway:ask'; id: number; question: Question }
  | ({ type: 'mtls-gateway:config' } & ConfigTexts)
  /** Drain now, with the instance's grace (the accepted config's, which a reload still pending does not change). */
  | { type: 'mtls-gateway:drain'; graceMs: number }

/**
 * The config texts a worker starts from, as the primary validated them: the instance's start
 * (the baseline of restart-only keys) and its last good config, and the store settings the
 * workers opened their store with, once they did. A worker that replaces a crashed one thus
 * runs what the others run, not whatever the file on disk says by then, and judges the next
 * reload as they do.
 */
export interface ConfigTexts {
  start: string
  current: string
  /**
   * The bytes of every file `start` and `current` reference, read when the primary accepted each:
   * a worker builds from these, never from the disk as it is when the worker starts (a replacement
   * would otherwise run a certificate replaced on disk after a refused reload while its siblings
   * keep the old one). The primary holds them once; they travel only over its own workers' IPC.
   */
  startFiles: ConfigFileSnapshot
  currentFiles: ConfigFileSnapshot
  /** The settings the workers' store was opened with (the first accepted config that needed one); absent while none did. */
  store?: StoreSettings
}

/**
 * Worker side: asks the primary for the config texts to start from. No timer of its own: the
 * primary answers once the reload in progress settles (never a later one queued behind it); a primary that
 * dies closes the IPC channel, which ends the worker (node:cluster), and a worker that does not
 * start in time is the primary's to kill (start-window.ts).
 */
export function requestConfigTexts(): Promise<ConfigTexts> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (!isMessage<PrimaryMessage & { type: 'mtls-gateway:config' }>(m, 'mtls-gateway:config')) return
      process.off('message', onMessage)
      resolve({ start: m.start, current: m.current, startFiles: m.startFiles, currentFiles: m.currentFiles, ...(m.store ? { store: m.store } : {}) })
    }
    process.on('message', onMessage)
    process.send?.({ type: 'mtls-gateway:config-request' } satisfies WorkerMessage)
  })
}

/** A worker's metrics as prom-client's JSON, ready for AggregatorRegistry.aggregate. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[]

/** Narrows an IPC message to one of ours. */
export function isMessage<T extends { type: string }>(m: unknown, type: T['type']): m is T {
  return m !== null && typeof m === 'object' && (m as { type?: unknown }).type === type
}

/**
 * Worker side: answer the primary until the process ends, and drain when it says so. The worker
 * started from the instance's accepted config, and the primary relayed no reload while it started.
 */
export function connectWorker(running: RunningOps, registry: Registry, binding: ListenerBinding): void {
  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send?.(m)
  }
  // `alive` is the primary's watchdog (worker-watchdog.ts): answering at all is the answer.
  const answer = async (q: Question): Promise<WorkerMetrics | Readiness | HandshakeFacts | ReloadResult | true> =>
    typeof q === 'object' ? running.reload(q.reload.trigger, { text: q.reload.text, files: q.reload.files }) : q === 'alive' ? true : q === 'metrics' ? registry.getMetricsAsJSON() : q === 'handshakes' ? running.handshakes() : running.readiness()
  process.on('message', (m: unknown) => {
    if (isMessage<PrimaryMessage & { type: 'mtls-gateway:ask' }>(m, 'mtls-gateway:ask')) {
      void answer(m.question).then((value) => send({ type: 'mtls-gateway:answer', id: m.id, value }))
    }
    if (isMessage<PrimaryMessage & { type: 'mtls-gateway:drain' }>(m, 'mtls-gateway:drain')) running.drain('primary', m.graceMs)
  })
  // The primary died (SIGKILL, out of memory): node:cluster would end this worker at once, cutting its
  // requests. No new connection reaches it any more (the primary handed them out): it lets those in
  // flight finish within its drain.grace, then exits. Marked as a disconnect it expects, which node:cluster leaves to us.
  process.prependOnceListener('disconnect', () => {
    if (cluster.worker) cluster.worker.exitedAfterDisconnect = true
    if (!running.draining) running.drain('primary exited')
  })
  send({ type: 'mtls-gateway:listening', ...binding })
}

/**
 * Primary side: one question to every worker; a worker that does not answer in time gets
 * `undefined`, and one that exits before it answered gets it at once, with `exited`.
 */
export type Ask = (workers: readonly Worker[], question: Question, timeoutMs: number) => Promise<Answer[]>

/** A worker's answer to one question. */
export interface Answer {
  worker: Worker
  value: unknown
  /** It exited before it answered (a reload waits for no worker that is gone). */
  exited?: true
}

type AskerCluster = { on(event: 'message', fn: (w: Worker, m: unknown) => void): unknown; on(event: 'exit', fn: (w: Worker) => void): unknown }

/** Creates the primary's asker; call once (it listens on the cluster's messages and exits). */
export function createAsker(cluster: AskerCluster): Ask {
  let next = 0
  const waiting = new Map<number, { worker: Worker; done(value: unknown, exited?: true): void }>()
  cluster.on('message', (_w, m) => {
    if (isMessage<WorkerMessage & { type: 'mtls-gateway:answer' }>(m, 'mtls-gateway:answer')) waiting.get(m.id)?.done(m.value)
  })
  cluster.on('exit', (w) => {
    for (const q of [...waiting.values()]) if (q.worker === w) q.done(undefined, true)
  })
  return (workers, question, timeoutMs) =>
    Promise.all(
      workers.map(
        (worker) =>
          new Promise<Answer>((resolve) => {
            const id = ++next
            const done = (value: unknown, exited?: true): void => {
              clearTimeout(timer)
              waiting.delete(id)
              resolve({ worker, value, ...(exited ? { exited } : {}) })
            }
            const timer = setTimeout(() => done(undefined), timeoutMs)
            waiting.set(id, { worker, done })
            // With a callback a closed channel is reported here instead of as an 'error' event that would crash the primary.
            worker.send({ type: 'mtls-gateway:ask', id, question } satisfies PrimaryMessage, undefined, (err) => {
              if (err) done(undefined)
            })
          }),
      ),
    )
}
