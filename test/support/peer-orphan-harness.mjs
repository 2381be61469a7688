// Started by test/peers/peer-lifetime.test.ts on Node 24 (which strips types): starts one peer
// through test/support/peers.ts, prints its pid, then waits to be killed.
import { registerHooks } from 'node:module'

// The support modules import each other as `./x.js`; the files are `./x.ts`.
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context)
    } catch (e) {
      if (!specifier.endsWith('.js')) throw e
      return next(specifier.replace(/\.js$/, '.ts'), context)
    }
  },
})
const { startPeer } = await import('./peers.ts')
const peer = await startPeer({ name: 'redis', command: 'redis-server', setup: (dir, port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir] })
console.log(JSON.stringify({ pid: peer.pid }))
setInterval(() => {}, 60_000)
