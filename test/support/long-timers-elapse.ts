/**
 * Fault injection for cluster workers, not timing: a CommonJS preload (`node --require`) after
 * which, while the file LONG_TIMERS_FILE exists, a starting worker's timers of a minute or more
 * fire at once, as if that much time had passed (until it tells the primary it listens), writing
 * `<file>.elapsed-<pid>` when one did. A test thus proves a worker outlasts any wait of a minute
 * or more, such as a reload that holds its config, without waiting that minute.
 */
export const LONG_TIMERS_ELAPSE = `
const cluster = require('node:cluster'), fs = require('node:fs'), { promisify } = require('node:util')
const file = process.env.LONG_TIMERS_FILE
if (cluster.isWorker && file) {
  let listening = false
  const send = process.send
  process.send = function (m, ...rest) {
    if (m && m.type === 'mtls-gateway:listening') listening = true
    return send.call(this, m, ...rest)
  }
  const setTimeoutAsIs = globalThis.setTimeout
  const elapsing = function (fn, ms, ...args) {
    if (!listening && typeof ms === 'number' && ms >= 60000 && fs.existsSync(file)) {
      fs.writeFileSync(file + '.elapsed-' + process.pid, String(ms))
      ms = 0
    }
    return setTimeoutAsIs(fn, ms, ...args)
  }
  elapsing[promisify.custom] = setTimeoutAsIs[promisify.custom]
  globalThis.setTimeout = elapsing
}
`
