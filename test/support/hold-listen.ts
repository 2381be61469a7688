/**
 * Fault injection for cluster workers, not timing: a CommonJS preload (`node --require`) after
 * which a worker's listen() waits while the file HOLD_LISTEN_FILE exists, writing
 * `<file>.held-<pid>` when it holds one, so a test can land a reload while a worker starts.
 */
export const HOLD_LISTEN = `
const cluster = require('node:cluster'), net = require('node:net'), fs = require('node:fs')
const hold = process.env.HOLD_LISTEN_FILE
if (cluster.isWorker && hold) {
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    if (!fs.existsSync(hold)) return listen.apply(this, args)
    fs.writeFileSync(hold + '.held-' + process.pid, '')
    const t = setInterval(() => { if (!fs.existsSync(hold)) { clearInterval(t); listen.apply(this, args) } }, 20)
    return this
  }
}
`
