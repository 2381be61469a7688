/**
 * The `--workers` primary's gate between starting workers and reloads. A worker handed the
 * instance's config texts builds from them and then listens; a reload relayed meanwhile would not
 * reach it (it answers the primary only once it serves), and it would serve the config the
 * instance left behind. So the next reload waits until every such worker serves (the reload then
 * reaches it too) or exits; one still starting after the answer timeout is killed (it served
 * nothing) and replaced from the reload's result.
 *
 * A worker that asks during a reload is handed that reload's result as it settles, before a reload
 * queued behind it starts (which then waits for it): were it to wait for a moment with no reload
 * running or queued, reloads arriving faster than they settle would starve it for ever.
 */
import type { Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { isMessage, type WorkerMessage } from './worker-link.js'
import type { StartKill } from './start-window.js'

export type { StartKill }

/** The workers handed their texts that do not serve yet. */
export interface StartGate {
  /** Hands `w` its `texts()` now or when the reload in progress settles (`release`), and follows it in that turn. */
  hand<T>(w: Worker, texts: () => T, when: 'now' | 'after-reload'): Promise<T>
  /** The reload in progress settled (a queued one not begun): hands every worker waiting for it its texts. */
  release(): void
  /** Resolves once no followed worker is starting; `kill`s those still starting after `timeoutMs`. */
  settle(log: Logger, timeoutMs: number, kill: (w: Worker, why: StartKill) => void): Promise<void>
}

type Listening = WorkerMessage & { type: 'mtls-gateway:listening' }

/** Creates an empty gate. */
export function createStartGate(): StartGate {
  const starting = new Map<Worker, Promise<void>>()
  const waiting: (() => void)[] = []
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
  // Followed in the turn the texts are taken: no reload begins between the two, so the next one reaches `w`.
  const hand = <T>(w: Worker, texts: () => T, when: 'now' | 'after-reload'): Promise<T> =>
    new Promise((resolve) => {
      const handOut = (): void => {
        follow(w)
        resolve(texts())
      }
      if (when === 'now') handOut()
      else waiting.push(handOut)
    })
  const release = (): void => {
    for (const handOut of waiting.splice(0)) handOut()
  }
  return { hand, release, settle: (log, timeoutMs, kill) => settleAll(starting, log, timeoutMs, kill) }
}

/** Resolves once none of `starting` is; `kill`s those still starting after `timeoutMs`. */
async function settleAll(starting: Map<Worker, Promise<void>>, log: Logger, timeoutMs: number, kill: (w: Worker, why: StartKill) => void): Promise<void> {
  if (starting.size === 0) return
  log.info({ workers: [...starting.keys()].map((w) => w.process.pid) }, 'reload: waiting for starting workers to serve')
  let timer: NodeJS.Timeout | undefined
  await Promise.race([Promise.all(starting.values()), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
  clearTimeout(timer)
  for (const [w, settled] of [...starting]) {
    // Logged once, when it exits (with how, and when its replacement starts).
    kill(w, { msg: 'worker still starting when a reload came: killing and replacing it', problem: `it did not serve within ${timeoutMs} ms, and would serve the config before this reload` })
    await settled
  }
}
