/**
 * The runtime the suite and the image run on: one Node 24 version named in the Dockerfile and
 * scripts/node24.sh, the suite really on it when npm test says so, and better-sqlite3 loading
 * its own native build in every Node that has one beside it.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'

const dockerfileArg = (name: string): string => new RegExp(`^ARG ${name}=(.*)$`, 'm').exec(readFileSync('Dockerfile', 'utf8'))?.[1] ?? ''

describe('runtime', () => {
  it('pins one Node 24 LTS version: both Dockerfile bases and scripts/node24.sh agree', () => {
    const runtime = /^node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(dockerfileArg('NODE_IMAGE'))?.[1]
    const build = /^node:(\d+\.\d+\.\d+)-bookworm$/.exec(dockerfileArg('BUILD_IMAGE'))?.[1]
    expect(runtime).toMatch(/^24\./)
    expect(build).toBe(runtime)
    expect(readFileSync('scripts/node24.sh', 'utf8')).toContain(`MTLS_GATEWAY_NODE_VERSION:-${runtime}}`)
  })

  // Skipped when a test file is run by hand (then on whatever Node runs vitest).
  it.skipIf(process.env.MTLS_GATEWAY_TEST_NODE === undefined)('runs on the Node that npm test announced (MTLS_GATEWAY_TEST_NODE, set by scripts/test.sh)', () => {
    expect(process.versions.node).toBe(process.env.MTLS_GATEWAY_TEST_NODE)
  })

  it('loads better-sqlite3 here, from the build for this Node ABI, and in every other Node with a build', () => {
    expect(new Database(':memory:').prepare('select 41 + 1 as n').get()).toEqual({ n: 42 })
    const bindings = 'node_modules/better-sqlite3/lib/binding'
    expect(existsSync(`${bindings}/node-v${process.versions.modules}-${process.platform}-${process.arch}/better_sqlite3.node`)).toBe(true)
    expect(existsSync('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(false) // would shadow the ABI folders
    const node24 = execFileSync('bash', ['scripts/node24.sh'], { encoding: 'utf8' }).trim()
    for (const node of [process.execPath, `${node24}/bin/node`]) {
      const abi = execFileSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim()
      if (!readdirSync(bindings).includes(`node-v${abi}-${process.platform}-${process.arch}`)) continue
      const out = execFileSync(node, ['-e', "console.log(require('better-sqlite3')(':memory:').prepare('select 1 as one').get().one)"], { encoding: 'utf8' })
      expect(out.trim(), node).toBe('1')
    }
  })
})
