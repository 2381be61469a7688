/**
 * The gateway loads undici's Agent and Dispatcher files, not its index (src/gateway/undici-agent.ts),
 * and the index is what puts `request`, `stream`, `pipeline`, `upgrade` and `connect` on
 * Dispatcher's prototype. Without them an Agent's `request` (the OAuth 1.0a token calls, the
 * console's profile test) was a TypeError ("upstream request failed (TypeError)"). Checked in a
 * fresh process of the dist build: in this one another test may already have loaded undici's index.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'

const PROBE = `
const { newAgent, undiciDispatcher } = await import('./dist/src/gateway/undici-agent.js')
const agent = newAgent({})
const methods = ['request', 'stream', 'pipeline', 'upgrade', 'connect'].map((m) => [m, typeof agent[m], typeof undiciDispatcher().prototype[m]])
const indexLoaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache).some((f) => f.endsWith('/undici/index.js'))
await agent.close()
console.log(JSON.stringify({ methods, indexLoaded }))
`

describe("undici's files without its index", () => {
  it("an Agent has the dispatcher API undici's index would give it, and the index stays unloaded", () => {
    assertDistFresh()
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', PROBE], { encoding: 'utf8' })) as { methods: [string, string, string][]; indexLoaded: boolean }
    expect(out.methods).toEqual(['request', 'stream', 'pipeline', 'upgrade', 'connect'].map((m) => [m, 'function', 'function']))
    expect(out.indexLoaded).toBe(false)
  })
})
