/**
 * The command line's contract: every error is one line naming the flag, file or address
 * (never a stack trace), usage mistakes exit 2 and failures 1, MTLS_GATEWAY_CONFIG /
 * _WORKERS / _RELOAD_TIMEOUT / _LOG_LEVEL stand in for their flags, and --version is package.json's.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest'
import { MAIN } from '../support/process.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-cli-errors-'))
let busy: Server
let busyPort: number

beforeAll(async () => {
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as { port: number }).port
  writeFileSync(join(dir, 'busy.yaml'), `listen:\n  host: 127.0.0.1\n  port: ${busyPort}\nadmin:\n  enabled: false\nendpoints: []\n`)
  writeFileSync(join(dir, 'empty.yaml'), 'endpoints: []\n')
})
afterAll(async () => {
  await new Promise<void>((resolve) => busy.close(() => resolve()))
  rmSync(dir, { recursive: true, force: true })
})

interface Ran { code: number; stdout: string; stderr: string }
async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const r = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

/** The one line of stderr; fails on a stack trace or on several lines (on the calling test's `expect`). */
function oneLine(expect: ExpectStatic, r: Ran): string {
  expect(r.stderr, r.stderr).not.toMatch(/^\s+at /m)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  return lines[0] as string
}

const SIGN = ['oauth1', 'sign', '--consumer-key', 'k', '--consumer-secret', 's']

describe('errors: one line naming the flag, file or address', () => {
  it.concurrent.for<[string[], RegExp]>([
    [['serve', '--port', 'abc'], /option '--port <port>' argument 'abc' is invalid\. expected a port number 0–65535/],
    [['serve', '--port', '70000'], /'--port <port>' argument '70000' is invalid/],
    [['serve', '--workers', '0'], /'--workers <n>' argument '0' is invalid\. expected a positive integer/],
    [['serve', '--log-level', 'loud'], /'--log-level <level>' argument 'loud' is invalid/],
    [['serve', '--reload-timeout', '30'], /'--reload-timeout <duration>' argument '30' is invalid\. expected a duration such as 30s or 500ms/],
    [['serve', '--reload-timeout', '0ms'], /'--reload-timeout <duration>' argument '0ms' is invalid/],
    [['serve', '--reload-timeout', '597h'], /'--reload-timeout <duration>' argument '597h' is invalid/],
    [['serve', '--nope'], /unknown option '--nope'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['pki', 'bogus'], /pki: unknown target "bogus": use dev or interception-ca/],
    [[...SIGN, '--url', 'not a url'], /--url not a url: not an absolute http\(s\) URL/],
    [[...SIGN, '--url', 'ftp://a.example/'], /--url ftp:\/\/a\.example\/: not an absolute http\(s\) URL/],
    [['oauth1', 'sign', '--url', 'http://a.example/', '--consumer-key', 'k', '--signature-method', 'RSA-SHA1'], /--key-file is required with --signature-method RSA-SHA1/],
    [['oauth1', 'sign', '--url', 'http://a.example/', '--consumer-key', 'k'], /--consumer-secret \(or MTLS_GATEWAY_CONSUMER_SECRET\) is required with --signature-method HMAC-SHA1/],
    [['oauth1', 'sign', '--consumer-secret', 's'], /--url is required \(or --base-string/],
    [[...SIGN, '--url', 'http://a.example/', '--oauth-param', 'oauth_nonce=1'], /--oauth-param oauth_nonce: set it with --nonce/],
    [[...SIGN, '--url', 'http://a.example/', '--oauth-param', 'realm=x'], /--oauth-param realm=x: expected oauth_<name>=<value>/],
    [[...SIGN, '--url', 'http://a.example/', '--body', 'a', '--body-file', 'b'], /--body and --body-file: give one of them/],
  ])("usage mistake %j: exit 2", async ([args, message], { expect }) => {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(oneLine(expect, r)).toMatch(new RegExp(`^mtls-gateway: .*${message.source}`))
  })

  it('a port in use: exit 1, naming the address and the flag', async ({ expect }) => {
    const r = await cli(['serve', '--config', join(dir, 'busy.yaml'), '--workers', '1'])
    expect(r.code).toBe(1)
    expect(oneLine(expect, r)).toBe(`mtls-gateway: cannot listen on 127.0.0.1:${busyPort}: address already in use (--port, or listen.port / admin.port in the config)`)
  })

  it('a port in use with --workers 2: the same one line (the primary reports the workers\' reason once), exit 1', async ({ expect }) => {
    const viaConfig = await cli(['serve', '--config', join(dir, 'busy.yaml'), '--workers', '2'])
    expect(viaConfig.code).toBe(1)
    expect(oneLine(expect, viaConfig)).toBe(`mtls-gateway: cannot listen on 127.0.0.1:${busyPort}: address already in use (--port, or listen.port / admin.port in the config)`)
    writeFileSync(join(dir, 'free.yaml'), 'listen:\n  host: 127.0.0.1\n  port: 0\nadmin:\n  enabled: false\nendpoints: []\n')
    const viaFlag = await cli(['serve', '--config', join(dir, 'free.yaml'), '--workers', '2', '--port', String(busyPort)])
    expect(viaFlag.code).toBe(1)
    expect(oneLine(expect, viaFlag)).toBe(`mtls-gateway: cannot listen on 127.0.0.1:${busyPort}: address already in use (--port, or listen.port / admin.port in the config)`)
  })

  it('a host that is no address of this machine: exit 1, naming the address and the host keys (not the port ones)', async ({ expect }) => {
    // 192.0.2.0/24 and 2001:db8::/32 are documentation ranges: no interface here has them, so bind fails at once.
    for (const host of ['192.0.2.1', '2001:db8::1']) {
      writeFileSync(join(dir, 'foreign.yaml'), `listen:\n  host: "${host}"\n  port: 0\nadmin:\n  enabled: false\nendpoints: []\n`)
      const r = await cli(['serve', '--config', join(dir, 'foreign.yaml'), '--workers', '1'])
      expect(r.code).toBe(1)
      expect(oneLine(expect, r)).toBe(`mtls-gateway: cannot listen on ${host}: address not available on this machine (listen.host / admin.host in the config)`)
    }
  })

  it('a missing config, key file or body file: exit 1, naming the file', async ({ expect }) => {
    const missing = join(dir, 'missing.yaml')
    const serve = await cli(['serve', '--config', missing, '--workers', '1'])
    expect(serve.code).toBe(1)
    expect(oneLine(expect, serve)).toBe(`mtls-gateway: ${missing}: cannot read config file: ENOENT`)
    const key = await cli(['oauth1', 'sign', '--url', 'http://a.example/', '--consumer-key', 'k', '--signature-method', 'RSA-SHA1', '--key-file', join(dir, 'no.pem')])
    expect(key.code).toBe(1)
    expect(oneLine(expect, key)).toBe(`mtls-gateway: --key-file ${join(dir, 'no.pem')}: cannot read (ENOENT)`)
    writeFileSync(join(dir, 'not-a-key.pem'), 'hello')
    const bad = await cli(['oauth1', 'sign', '--url', 'http://a.example/', '--consumer-key', 'k', '--signature-method', 'RSA-SHA1', '--key-file', join(dir, 'not-a-key.pem')])
    expect(oneLine(expect, bad)).toBe(`mtls-gateway: --key-file ${join(dir, 'not-a-key.pem')}: not a readable PEM private key (encrypted? give --key-passphrase)`)
    const body = await cli([...SIGN, '--url', 'http://a.example/', '--body-file', join(dir, 'no.bin')])
    expect(body.code).toBe(1)
    expect(oneLine(expect, body)).toBe(`mtls-gateway: --body-file ${join(dir, 'no.bin')}: cannot read (ENOENT)`)
  })
})

describe('environment equivalents and version', () => {
  it('MTLS_GATEWAY_CONFIG names the config file; --config wins over it', async ({ expect }) => {
    const viaEnv = await cli(['check'], { MTLS_GATEWAY_CONFIG: join(dir, 'missing-env.yaml') })
    expect(viaEnv.code).toBe(1)
    expect(viaEnv.stderr).toContain(`${join(dir, 'missing-env.yaml')}: cannot read config file: ENOENT`)
    const flagWins = await cli(['serve', '--config', join(dir, 'missing-flag.yaml'), '--workers', '1'], { MTLS_GATEWAY_CONFIG: join(dir, 'missing-env.yaml') })
    expect(oneLine(expect, flagWins)).toContain(join(dir, 'missing-flag.yaml'))
  })

  it('MTLS_GATEWAY_WORKERS, MTLS_GATEWAY_RELOAD_TIMEOUT and MTLS_GATEWAY_LOG_LEVEL are parsed like their flags (the error names the variable)', async ({ expect }) => {
    const workers = await cli(['serve', '--config', join(dir, 'empty.yaml')], { MTLS_GATEWAY_WORKERS: 'many' })
    expect(workers.code).toBe(2)
    expect(oneLine(expect, workers)).toMatch(/'--workers <n>' value 'many' from env 'MTLS_GATEWAY_WORKERS' is invalid/)
    const level = await cli(['serve', '--config', join(dir, 'empty.yaml')], { MTLS_GATEWAY_LOG_LEVEL: 'loud' })
    expect(level.code).toBe(2)
    expect(oneLine(expect, level)).toMatch(/'--log-level <level>' value 'loud' from env 'MTLS_GATEWAY_LOG_LEVEL' is invalid/)
    const timeout = await cli(['serve', '--config', join(dir, 'empty.yaml')], { MTLS_GATEWAY_RELOAD_TIMEOUT: 'soon' })
    expect(timeout.code).toBe(2)
    expect(oneLine(expect, timeout)).toMatch(/'--reload-timeout <duration>' value 'soon' from env 'MTLS_GATEWAY_RELOAD_TIMEOUT' is invalid/)
    // A valid value takes effect: the port-in-use start fails the same way with workers from the environment.
    const ok = await cli(['serve', '--config', join(dir, 'busy.yaml')], { MTLS_GATEWAY_WORKERS: '1', MTLS_GATEWAY_LOG_LEVEL: 'silent' })
    expect(oneLine(expect, ok)).toContain(`cannot listen on 127.0.0.1:${busyPort}`)
  })

  it('--version prints package.json version', async ({ expect }) => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
    const r = await cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
  })
})
