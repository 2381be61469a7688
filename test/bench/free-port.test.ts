import { describe, expect, it } from 'vitest'
import { freePort } from '../../bench/procs.js'

describe('freePort', () => {
  // The kernel offers a just-closed port again often enough that, among a few hundred asks,
  // one repeats almost always (about 14,000 candidates; the birthday bound). A repeat once
  // gave an nginx the same port for its TLS and its status listener.
  it('never hands out the same port twice in one process', async () => {
    const ports: number[] = []
    for (let i = 0; i < 400; i++) ports.push(await freePort())
    expect(new Set(ports).size).toBe(ports.length)
    expect(ports.every((p) => p > 1024 && p < 65536)).toBe(true)
  })
})
