/**
 * `--version`, `--help` and a usage error load only what parsing the command line needs:
 * commander, cli/options.ts, cli/oauth1-sign.ts with oauth1/ (its flag choices) and process/.
 * Each command's module is imported when it runs (main.ts), so these stay a fraction of a
 * gateway's start (35 modules instead of 852; 0.16–0.19 s of CPU instead of 0.9–1.0 s on a
 * loaded 2-core machine). A child Node records every module it loads (module.registerHooks).
 */
import { execFile } from 'node:child_process'
import * as nodeModule from 'node:module'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'

const run = promisify(execFile)
assertDistFresh(['src'])

// Prints the URL of every module loaded, once the process exits.
const RECORDER = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module'
const urls = []
registerHooks({ load(url, context, next) { urls.push(url); return next(url, context) } })
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(urls) + '\\n'))
`)}`

/** What `mtls-gateway <args>` loaded, as package names and src/ paths. */
async function loaded(...args: string[]): Promise<string[]> {
  const r = await run(process.execPath, ['--import', RECORDER, MAIN, ...args]).catch((e: { stderr: string }) => e)
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '))
  const urls = JSON.parse(line?.slice('LOADED '.length) ?? '[]') as string[]
  return [...new Set(urls.filter((u) => u.startsWith('file:')).map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1] ?? u.replace(/^.*\/dist\/src\//, 'src/')))].sort()
}

const ALLOWED = /^(commander|src\/(main|errors)\.js|src\/(cli\/(options|oauth1-sign)\.js|oauth1\/|process\/).*)$/

// module.registerHooks: Node 22.15 and later (the suite runs Node 24).
describe.skipIf(!('registerHooks' in nodeModule))('what the command line loads before a command runs', () => {
  it.each([[['--version']], [['--help']], [['serve', '--workers', '0']], [['check', '--no-such-flag']], [['pki', '--help']]])('mtls-gateway %j loads only commander, cli/options, oauth1/ and process/', async (args) => {
    const modules = await loaded(...args)
    expect(modules).toContain('commander')
    expect(modules).toContain('src/process/index.js')
    expect(modules.filter((m) => !ALLOWED.test(m))).toEqual([])
  })
})
