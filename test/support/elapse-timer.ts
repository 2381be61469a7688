/**
 * Fault injection for a cluster primary, not timing: a CommonJS preload (`node --require`) after
 * which the primary's pending timers of exactly ELAPSE_TIMER_MS milliseconds fire when the file
 * ELAPSE_TIMER_FILE appears, as if that much time had passed; the preload then removes the file,
 * so timers set later run their full time until the file appears again. A test thus proves what
 * the primary does at the end of a long window (a worker's start window) without waiting it out.
 * Pick a delay no other timer of the primary uses (a start window of 30 s plus an odd
 * `--reload-timeout`).
 */
export const ELAPSE_TIMER = `
const cluster = require('node:cluster'), fs = require('node:fs'), { promisify } = require('node:util')
const file = process.env.ELAPSE_TIMER_FILE, delay = Number(process.env.ELAPSE_TIMER_MS)
if (cluster.isPrimary && file && delay > 0) {
  const setTimeoutAsIs = globalThis.setTimeout, clearTimeoutAsIs = globalThis.clearTimeout
  const pending = new Map()
  const watching = function (fn, ms, ...args) {
    if (ms !== delay) return setTimeoutAsIs(fn, ms, ...args)
    const timer = setTimeoutAsIs(() => { pending.delete(timer); fn(...args) }, ms)
    pending.set(timer, () => fn(...args))
    return timer
  }
  watching[promisify.custom] = setTimeoutAsIs[promisify.custom]
  globalThis.setTimeout = watching
  globalThis.clearTimeout = function (timer) {
    pending.delete(timer)
    return clearTimeoutAsIs(timer)
  }
  setInterval(() => {
    if (!fs.existsSync(file)) return
    fs.unlinkSync(file)
    for (const [timer, fire] of [...pending]) {
      pending.delete(timer)
      clearTimeoutAsIs(timer)
      fire()
    }
  }, 20).unref()
}
`
