/**
 * Fault injection for a gateway's processes, not timing: a CommonJS preload (`node --require`)
 * after which, once the file CLOCK_JUMP_FILE exists, each process's `Date.now()` reads
 * CLOCK_JUMP_MS later, and its interval timers of exactly CLOCK_JUMP_INTERVAL_MS run once then,
 * as they would have during that time; it then writes `<file>.seen-<pid>`. A test thus proves
 * what an instance does when a date passes while it runs (a certificate expires or becomes
 * valid) without waiting for the date, and knows when each process has looked at the clock.
 */
export const CLOCK_JUMP = `
const fs = require('node:fs')
const file = process.env.CLOCK_JUMP_FILE, jump = Number(process.env.CLOCK_JUMP_MS), every = Number(process.env.CLOCK_JUMP_INTERVAL_MS)
if (file && jump > 0 && every > 0) {
  const nowAsIs = Date.now, setIntervalAsIs = globalThis.setInterval, clearIntervalAsIs = globalThis.clearInterval
  let offset = 0
  Date.now = () => nowAsIs() + offset
  const ticking = new Map()
  globalThis.setInterval = function (fn, ms, ...args) {
    const timer = setIntervalAsIs(fn, ms, ...args)
    if (ms === every) ticking.set(timer, () => fn(...args))
    return timer
  }
  globalThis.clearInterval = function (timer) {
    ticking.delete(timer)
    return clearIntervalAsIs(timer)
  }
  const watch = setIntervalAsIs(() => {
    if (!fs.existsSync(file)) return
    clearIntervalAsIs(watch)
    offset = jump
    for (const tick of [...ticking.values()]) tick()
    fs.writeFileSync(file + '.seen-' + process.pid, String(offset))
  }, 20)
  watch.unref()
}
`
