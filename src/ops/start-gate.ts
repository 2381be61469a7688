/**
 * The `--workers` primary's gate between starting workers and reloads. A worker handed the
 * instance's config texts builds from them and then listens; a reload relayed meanwhile would not
 * reach it (it answers the primary only once it serves), and it would serve the config the
 * instance left behind. So the next reload waits until every such worker serves (the reload then
 * reaches it too) or exits; one still starting after the answer timeout is killed (it served
 * nothing) and replaced from the reload's result.
 */
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { isMessage, type WorkerMessage } from './worker-link.js'

/** The workers handed their texts that do not serve yet. */
export interface StartGate {
  /** `w` was handed the texts (in the same turn as the check that no reload runs). */
  follow(w: Worker): void
  /** Resolves once no followed worker is starting; `kill`s those still starting after `timeoutMs`. */
  settle(log: Logger, timeoutMs: number, kill: (w: Worker) => void): Promise<void>
}

type Listening = WorkerMessage & { type: 'mtls-gateway:listening' }

/** Creates an empty gate. */
export function createStartGate(): StartGate {
  const starting = new Map<Worker, Promise<void>>()
  const follow = (w: Worker): void => {
    if (w.isDead() || starting.has(w)) return
    const settled = new Promise<void>((resolve) => {
      const done = (): void => {
        w.off('message', onMessage)
        w.off('exit', done)
        starting.delete(w)
        resolve()
      }
      const onMessage = (m: unknown): void => void (isMessage<Listening>(m, 'mtls-gateway:listening') && done())
      w.on('message', onMessage)
      w.once('exit', done)
    })
    starting.set(w, settled)
  }
  const settle = async (log: Logger, timeoutMs: number, kill: (w: Worker) => void): Promise<void> => {
    if (starting.size === 0) return
    log.info({ workers: [...starting.keys()].map((w) => w.process.pid) }, 'reload: waiting for starting workers to serve')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(starting.values()), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
    clearTimeout(timer)
    for (const [w, settled] of [...starting]) {
      log.error({ worker: w.process.pid, problem: `it did not serve within ${timeoutMs} ms, and would serve the config before this reload` }, 'worker still starting when a reload came: killing and replacing it')
      kill(w)
      await settled
    }
  }
  return { follow, settle }
}
