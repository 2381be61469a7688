/**
 * A pass-through destination behind a black hole (its SYNs leave and are never answered; the
 * operating system would retry for about two minutes) gets the caller a 504 after the entry's
 * `connectTimeout`, and the dial is given up. Run in a loopback-only network namespace where
 * 10.9.9.0/24 leaves through a veth pair towards a neighbour that does not exist, so nothing
 * ever leaves the machine. pass-through-dial.test.ts covers the rest (lines, samples, workers,
 * reload) with a full accept queue, which drops SYNs the same way without a namespace.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, ensureDistBuilt } from '../support/netns.js'

const HARNESS = fileURLToPath(new URL('../support/c-black-hole-harness.mjs', import.meta.url))
const MSG = 'pass-through 10.9.9.9:443: connect timeout: no answer within 1 s (interception.passThrough[].connectTimeout)'

interface Result {
  answer: { status: number; body: string }
  access: Record<string, unknown>[]
  givenUp: boolean
}

describe('a pass-through dial into a black hole', () => {
  beforeAll(async () => {
    await ensureDistBuilt()
  }, 240_000)

  it('is answered 504 after connectTimeout, well within the two minutes of SYN retries, and given up', async () => {
    const script = [
      'ip link set lo up',
      'ip link add gw-bh0 type veth peer name gw-bh1',
      'ip link set gw-bh0 up',
      'ip link set gw-bh1 up',
      'ip addr add 10.9.9.1/24 dev gw-bh0',
      // A neighbour entry that never needs ARP: the SYN is sent to a MAC address nobody has.
      'ip neigh replace 10.9.9.9 lladdr 02:00:00:00:00:09 dev gw-bh0 nud permanent',
      `exec "${process.execPath}" "${HARNESS}" "${ROOT}dist"`,
    ].join(' && ')
    const { stdout } = await promisify(execFile)('unshare', ['--net', 'sh', '-c', script], { timeout: 110_000, maxBuffer: 16 << 20 })
    const out = JSON.parse(stdout.trim().split('\n').pop() as string) as Result
    // The limit's answer, not a fast failure such as ENETUNREACH (502): the SYN went out unanswered.
    expect(out.answer.status).toBe(504)
    expect(JSON.parse(out.answer.body)).toEqual({ errors: [{ msg: MSG, code: 504 }] })
    expect(out.givenUp).toBe(true)
    expect(out.access).toHaveLength(1)
    expect(out.access[0]).toMatchObject({ mode: 'connect', method: 'CONNECT', status: 504, reason: 'upstream_timeout', error: MSG })
    // Bounded by the limit, not by the operating system's retries (about 127 s).
    expect(out.access[0]?.durationMs).toBeLessThan(60_000)
  }, 120_000)
})
