/**
 * Protected mode: without a callers section the gateway serves only callers on its own machine.
 * A caller from any other address gets 403 naming the fix, on every way in, and the endpoint's
 * upstream is never dialled for it; `callers: { required: false }` opens the gateway on purpose.
 * The wire test runs in a loopback-only network namespace where 10.0.0.0/8 (and fd00::/64) are
 * local addresses, so generated non-loopback sources never leave the machine.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isLoopbackHost, protectedModeMessage } from '../../src/config/index.js'
import { refuseUnlessLocal } from '../../src/proxy/steps/authenticate-caller.js'
import { GatewayError } from '../../src/errors.js'
import { ROOT, ensureDistBuilt } from '../support/netns.js'
import { createTestPki, type TestPki } from '../support/pki.js'

const HARNESS = fileURLToPath(new URL('../support/protected-mode-harness.mjs', import.meta.url))
const PROTECTED = /^protected mode: this gateway has no callers section, so it serves only callers on its own machine \(loopback\), not .*callers\.apps.*callers: \{ required: false \}/

/** An independent model: the address's bytes, as the kernel routes 127/8 and ::1 to lo. */
function loopbackModel(address: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address)
  if (v4) return Number(v4[1]) === 127
  const words = address.split('::')
  if (words.length > 2) return false
  const head = words[0] ? words[0].split(':') : []
  const tail = words.length === 2 && words[1] ? words[1].split(':') : []
  const full = words.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head
  return full.length === 8 && full.slice(0, 7).every((w) => parseInt(w, 16) === 0) && parseInt(full[7] as string, 16) === 1
}

describe('protected mode, the rule', () => {
  it('admits exactly loopback sources (IPv4-mapped included) and verified certificate holders (6,000 runs)', () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((a) => `::ffff:${a}`), fc.ipV4().map((a) => `127.${a.split('.').slice(1).join('.')}`), fc.constantFrom('::1', '0:0:0:0:0:0:0:1', '::', '0.0.0.0'))
    fc.assert(
      fc.property(address, fc.boolean(), (a, cert) => {
        expect(isLoopbackHost(a)).toBe(loopbackModel(a))
        let refused: GatewayError | undefined
        try {
          refuseUnlessLocal(a, cert)
        } catch (e) {
          refused = e as GatewayError
        }
        expect(refused === undefined).toBe(cert || loopbackModel(a))
        if (refused) expect({ reason: refused.reason, msg: refused.message }).toEqual({ reason: 'caller_not_allowed', msg: protectedModeMessage(a) })
      }),
      { seed: 0x9a07, numRuns: 6000 },
    )
    expect(() => refuseUnlessLocal(undefined, false)).toThrow(PROTECTED)
  })
})

describe('protected mode, through the gateway', () => {
  let pki: TestPki
  beforeAll(async () => {
    await ensureDistBuilt()
    pki = await createTestPki()
  }, 240_000)
  afterAll(() => pki?.cleanup())

  interface Answer { status: number; body: string }
  interface Result { source: string; route: Answer; routeDials: number; tunnel: Answer }

  it('refuses every non-loopback caller before any dial, and admits all with callers: { required: false } (300 generated sources)', async () => {
    const script = [
      'ip link set lo up',
      'ip route add local 10.0.0.0/8 dev lo',
      'if ip -6 route add local fd00::/64 dev lo 2>/dev/null && sysctl -qw net.ipv6.ip_nonlocal_bind=1 2>/dev/null; then v6=1; else v6=0; fi',
      `exec "${process.execPath}" "${HARNESS}" "${ROOT}dist" 2401 300 "$v6"`,
    ].join(' && ').replace('&& if', '; if').replace('fi &&', 'fi;')
    const { stdout } = await promisify(execFile)('unshare', ['--net', 'sh', '-c', script], { env: { ...process.env, PKI: pki.dir }, timeout: 180_000, maxBuffer: 64 << 20 })
    const out = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<'none' | 'openOnPurpose', Result[]>
    expect(out.none).toHaveLength(300)
    const sources = new Set(out.none.map((r) => r.source))
    expect([...sources].some((s) => isLoopbackHost(s)) && [...sources].some((s) => !isLoopbackHost(s))).toBe(true)
    for (const r of out.none) {
      const errorOf = (a: Answer): { msg: string; code: number } | undefined => (JSON.parse(a.body || '{}') as { errors?: { msg: string; code: number }[] }).errors?.[0]
      if (loopbackModel(r.source)) {
        // Admitted: the gateway dialled the upstream (a TCP counter, so the TLS handshake fails: 502).
        expect({ source: r.source, route: r.route.status, dials: r.routeDials }).toEqual({ source: r.source, route: 502, dials: 1 })
        expect(errorOf(r.tunnel)?.msg ?? '', r.source).not.toMatch(/protected mode/)
      } else {
        expect({ source: r.source, route: r.route.status, dials: r.routeDials, tunnel: r.tunnel.status }).toEqual({ source: r.source, route: 403, dials: 0, tunnel: 403 })
        expect(errorOf(r.route)).toEqual({ msg: expect.stringMatching(PROTECTED), code: 403 })
        expect(errorOf(r.tunnel)).toEqual({ msg: expect.stringMatching(PROTECTED), code: 403 })
        // The caller as the gateway names it everywhere: an IPv4 one of this listener on "::" as its IPv4 address.
        for (const a of [r.route, r.tunnel]) expect(errorOf(a)?.msg).toContain(`, not ${r.source}. `)
      }
    }
    // A tunnel another machine opened while callers were configured: after a reload to protected
    // mode its next request is refused, as a fresh start refuses that CONNECT (it was served: rev-S).
    const reloaded = (JSON.parse(stdout.trim().split('\n').pop() as string) as { reloaded: { connect: number; before: Answer; reload: boolean; after: Answer; fresh: Answer } }).reloaded
    expect({ connect: reloaded.connect, before: reloaded.before.status, reload: reloaded.reload, fresh: reloaded.fresh.status }).toEqual({ connect: 200, before: 502, reload: true, fresh: 403 })
    expect(reloaded.after.status, reloaded.after.body).toBe(403)
    expect((JSON.parse(reloaded.after.body) as { errors: { msg: string }[] }).errors[0]?.msg).toMatch(PROTECTED)
    // Another machine's caller with a certificate the listener verified is admitted in its tunnel too.
    const certificate = (JSON.parse(stdout.trim().split('\n').pop() as string) as { reloaded: { certificate: { connect: number; inner: Answer } } }).reloaded.certificate
    expect({ connect: certificate.connect, inner: certificate.inner.status }, certificate.inner.body).toEqual({ connect: 200, inner: 502 })
    // The same sources as without callers (the harness's one list), every one of them answered.
    expect(out.openOnPurpose.map((r) => r.source)).toEqual(out.none.map((r) => r.source))
    for (const r of out.openOnPurpose) {
      expect({ source: r.source, route: r.route.status, dials: r.routeDials }).toEqual({ source: r.source, route: 502, dials: 1 })
      expect(r.tunnel.body).not.toMatch(/protected mode/)
    }
  }, 240_000)
})
