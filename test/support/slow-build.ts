/**
 * Fault injection for cluster workers, not timing: a CommonJS preload (`node --require`) after
 * which, while the file SLOW_BUILD_FILE exists, each TLS context a worker builds takes
 * SLOW_BUILD_MS (default 400) longer: a sleep that blocks the worker (no CPU), as a config build
 * on a throttled CPU does. With SLOW_BUILD_STARTING=1 only a worker that has not yet told the
 * primary it listens is slowed: its start outlasts any reload's wait, while serving workers answer.
 */
export const SLOW_BUILD = `
const cluster = require('node:cluster'), fs = require('node:fs'), tls = require('node:tls')
const slow = process.env.SLOW_BUILD_FILE, ms = Number(process.env.SLOW_BUILD_MS || 400)
if (cluster.isWorker && slow) {
  let listening = false
  if (process.env.SLOW_BUILD_STARTING === '1') {
    const send = process.send
    process.send = function (m, ...rest) {
      if (m && m.type === 'mtls-gateway:listening') listening = true
      return send.call(this, m, ...rest)
    }
  }
  const create = tls.createSecureContext
  tls.createSecureContext = function (...args) {
    if (!listening && fs.existsSync(slow)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
    return create.apply(this, args)
  }
  require('node:module').syncBuiltinESMExports()
}
`
