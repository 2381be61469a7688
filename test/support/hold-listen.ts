/**
 * Fault injection, not timing: a CommonJS preload (`node --require`) after which a listen() waits
 * while the file HOLD_LISTEN_FILE exists, writing `<file>.held-<pid>` when it holds one, so a test
 * can land a reload or a signal while a process starts. By default only cluster workers hold (their
 * proxy listener); with HOLD_LISTEN_ANY=1 any process does (one process: its admin listener listens
 * first, then the proxy listener), after letting HOLD_LISTEN_SKIP listen() calls through (default 0).
 *
 * It also writes what a test must see rather than guess: `<file>.signal-<pid>` once a SIGTERM or
 * SIGINT reached the process's JavaScript while a listen() is held (the gateway's own handlers run in
 * the same turn), and `<file>.closed-unbound-<pid>` when a server is closed while not bound (its
 * listen() pending, or not called yet: it would bind all the same, and serve).
 */
export const HOLD_LISTEN = `
{
const cluster = require('node:cluster'), net = require('node:net'), fs = require('node:fs')
const hold = process.env.HOLD_LISTEN_FILE
let skip = Number(process.env.HOLD_LISTEN_SKIP || 0)
if ((cluster.isWorker || process.env.HOLD_LISTEN_ANY === '1') && hold) {
  const mark = (what) => fs.writeFileSync(hold + '.' + what + '-' + process.pid, '')
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    if (!fs.existsSync(hold) || skip-- > 0) return listen.apply(this, args)
    mark('held')
    // First: a worker still starting exits at its SIGTERM from its own listener.
    for (const signal of ['SIGTERM', 'SIGINT']) process.prependListener(signal, () => mark('signal'))
    const t = setInterval(() => { if (!fs.existsSync(hold)) { clearInterval(t); listen.apply(this, args) } }, 20)
    return this
  }
  const close = net.Server.prototype.close
  net.Server.prototype.close = function (...args) {
    if (!this.listening) mark('closed-unbound')
    return close.apply(this, args)
  }
}
}
`
