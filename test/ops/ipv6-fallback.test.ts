/**
 * `::` on a node booted with ipv6.disable=1: the listener and the admin listener fall back to
 * `0.0.0.0`, as Node does when no host is given, with one warning line each (a `--workers 2`
 * primary says it once for the instance), and serve IPv4 callers, after a reload too. The kernel
 * here has IPv6 and a network namespace with IPv6 disabled by sysctl still binds `::`: the gateway
 * runs under test/support/no-ipv6.py, a seccomp filter that fails socket(AF_INET6) with
 * EAFNOSUPPORT, the error such a kernel gives. Only `::` and only that error fall back: `::1`
 * there, and `::` on a port in use, still stop the start. The decision over generated hosts and
 * error codes (seeded).
 */
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fallbackHost } from '../../src/proxy/bind-listener.js'
import { endpointYaml, send } from '../support/gateway.js'
import { finalEntries, type LogEntry } from '../support/log-entries.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, get, replaceFile } from './helpers.js'

const NO_IPV6 = ['python3', fileURLToPath(new URL('../support/no-ipv6.py', import.meta.url))]
const FELL_BACK = /^(listen|admin)\.host "::" cannot be bound: the kernel has no IPv6 \(EAFNOSUPPORT; booted with ipv6\.disable=1\?\); listening on 0\.0\.0\.0 \(IPv4 only\) instead$/

let pki: TestPki
let upstream: RunningServer
beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
}, 120_000)
afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

const config = (host: string, port = 0, extra = ''): string =>
  `listen: { host: "${host}", port: ${port} }\nadmin: { host: "${host}", port: 0 }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}${extra}`

/** The start-up line `msg` printed, parsed. */
const startLine = (gp: GatewayProcess, msg: string): { msg: string; url: string; on: string } | undefined =>
  gp.output.filter((l) => l.startsWith('{"msg"')).map((l) => JSON.parse(l) as { msg: string; url: string; on: string }).find((l) => l.msg === msg)

const fallbacks = (entries: LogEntry[]): unknown[] => entries.filter((e) => typeof e.msg === 'string' && FELL_BACK.test(e.msg)).map((e) => ({ key: e.key, level: e.level, code: e.code, boundHost: e.boundHost }))

describe.each([1, 2])('serve --workers %i on a kernel without IPv6', (workers) => {
  let gp: GatewayProcess | undefined
  afterAll(async () => void (await gp?.stop('SIGKILL')))

  it('listens on 0.0.0.0 for listen.host and admin.host "::", says so once each, and serves IPv4 callers before and after a reload', async () => {
    const file = join(pki.dir, `fallback-${workers}.yaml`)
    replaceFile(file, config('::'))
    const started = await spawnGateway(file, ['--workers', String(workers)], {}, NO_IPV6)
    gp = started
    const listening = startLine(started, 'listening')
    expect(listening).toEqual({ msg: 'listening', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), on: expect.stringMatching(/^0\.0\.0\.0:\d+ \(IPv4 only: the kernel has no IPv6\)$/) })
    expect(listening?.on.split(' ')[0]).toBe(`0.0.0.0:${new URL(listening?.url ?? '').port}`)
    const admin = await eventually(() => startLine(started, 'admin listening'), 60_000, 'the admin line')
    expect(admin.on).toMatch(/^0\.0\.0\.0:\d+ \(IPv4 only: the kernel has no IPv6\)$/)
    expect((await get(`${admin.url}/healthz`)).status).toBe(200)
    expect((await send(started.url, '/proxy/partner/before')).status).toBe(200)
    // A reload (an endpoint added) keeps the listeners as they are and says nothing more about them.
    const from = started.output.length
    replaceFile(file, config('::', 0, endpointYaml('added', upstream.port, clientTls(pki))))
    await eventually(() => started.logEntries(from).some((e) => e.msg === 'config reloaded'), 60_000, 'the reload')
    await eventually(async () => (await send(started.url, '/proxy/added/after')).status === 200, 60_000, 'the added endpoint to serve')
    for (let i = 0; i < 4; i++) expect((await send(started.url, `/proxy/partner/after-${i}`)).status).toBe(200)
    const entries = await finalEntries(started)
    expect(fallbacks(entries).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { key: 'admin.host', level: 'warn', code: 'EAFNOSUPPORT', boundHost: '0.0.0.0' },
      { key: 'listen.host', level: 'warn', code: 'EAFNOSUPPORT', boundHost: '0.0.0.0' },
    ])
  }, 240_000)
})

describe('what does not fall back', () => {
  it('::1 on a kernel without IPv6 stops the start (EAFNOSUPPORT), in one line that says why: only "::" means "every address"', async () => {
    const file = join(pki.dir, 'loopback6.yaml')
    replaceFile(file, config('::1'))
    await expect(spawnGateway(file, ['--workers', '1'], {}, NO_IPV6)).rejects.toThrow(/exited with 1[\s\S]*mtls-gateway: cannot listen on ::1: the kernel does not support this address family \(EAFNOSUPPORT: no IPv6, booted with ipv6\.disable=1\?\) \(listen\.host \/ admin\.host in the config\)$/m)
  }, 120_000)

  it('"::" on a port in use stops the start (EADDRINUSE), though 0.0.0.0 on that port is free', async () => {
    // Held on IPv6 only: the dual-stack bind of :: fails, an IPv4 one of the same port would not.
    const holder: Server = createServer()
    await new Promise<void>((resolve) => holder.listen({ port: 0, host: '::', ipv6Only: true }, resolve))
    const port = (holder.address() as { port: number }).port
    try {
      const file = join(pki.dir, 'in-use.yaml')
      replaceFile(file, config('::', port))
      await expect(spawnGateway(file, ['--workers', '1'])).rejects.toThrow(/exited with 1[\s\S]*address already in use/)
    } finally {
      await new Promise((resolve) => holder.close(resolve))
    }
  }, 120_000)

  it('property (seeded): falls back exactly for host "::" and EAFNOSUPPORT, to 0.0.0.0', () => {
    const host = fc.oneof(fc.constantFrom('::', '::1', '0.0.0.0', '127.0.0.1', '[::]', '0:0:0:0:0:0:0:0', '::0', 'localhost', ''), fc.ipV6(), fc.ipV4())
    const code = fc.oneof(fc.constantFrom('EAFNOSUPPORT', 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'EPERM', 'EINVAL', 'ENOTFOUND', 'EPROTONOSUPPORT'), fc.string())
    fc.assert(
      fc.property(host, code, (h, c) => {
        const err = Object.assign(new Error(c), { code: c })
        expect(fallbackHost(h, err)).toBe(h === '::' && c === 'EAFNOSUPPORT' ? '0.0.0.0' : undefined)
      }),
      { seed: 35_610, numRuns: 2000 },
    )
    for (const notAnError of [undefined, null, 'EAFNOSUPPORT', { code: 97 }]) expect(fallbackHost('::', notAnError)).toBeUndefined()
  })
})
