/**
 * `--version`, `--help` and a usage error load only what parsing the command line needs:
 * commander, cli/options.ts, cli/oauth1-sign.ts with oauth1/ (its flag choices) and process/.
 * Each command's module is imported when it runs (main.ts), so these stay a fraction of a
 * gateway's start (35 modules instead of 852; 0.16–0.19 s of CPU instead of 0.9–1.0 s on a
 * loaded 2-core machine). A child Node records every module it loads (module.registerHooks).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { CAN_RECORD, loadedModules, RECORDER } from '../support/loaded-modules.js'

const run = promisify(execFile)
assertDistFresh(['src'])

/** What `mtls-gateway <args>` loaded, as package names and src/ paths. */
async function loaded(...args: string[]): Promise<string[]> {
  const r = await run(process.execPath, ['--import', RECORDER, MAIN, ...args]).catch((e: { stderr: string }) => e)
  return loadedModules(r.stderr)[0]?.modules ?? []
}

const ALLOWED = /^(commander|src\/(main|errors)\.js|src\/(cli\/(options|oauth1-sign)\.js|oauth1\/|process\/).*)$/

describe.skipIf(!CAN_RECORD)('what the command line loads before a command runs', () => {
  it.each([[['--version']], [['--help']], [['serve', '--workers', '0']], [['check', '--no-such-flag']], [['pki', '--help']]])('mtls-gateway %j loads only commander, cli/options, oauth1/ and process/', async (args) => {
    const modules = await loaded(...args)
    expect(modules).toContain('commander')
    expect(modules).toContain('src/process/index.js')
    expect(modules.filter((m) => !ALLOWED.test(m))).toEqual([])
  })
})
