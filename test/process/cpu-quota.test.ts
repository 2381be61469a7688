/**
 * `serve --workers` defaults to the container's CPU quota: cgroup v2 `cpu.max` (the smallest
 * along the process's cgroup path) or cgroup v1 `cpu.cfs_quota_us / cpu.cfs_period_us`, read
 * from fixture trees laid out like `/`; without a quota, the CPUs the OS offers.
 */
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cgroupCpuLimit, defaultWorkers } from '../../src/process/index.js'

const fixture = (name: string): string => join(import.meta.dirname, 'fixtures', 'cgroup', name)

describe('cgroup CPU quota', () => {
  it.each([
    ['v2-limited', 2.5],
    ['v2-half', 0.5],
    ['v2-nested', 3],
    ['v1-limited', 3],
  ])('reads the quota of %s as %d CPUs', (name, cpus) => {
    expect(cgroupCpuLimit({ root: fixture(name) })).toBe(cpus)
  })

  it.each(['v2-unlimited', 'v1-unlimited', 'does-not-exist'])('finds no quota in %s ("max", -1, or no cgroup files)', (name) => {
    expect(cgroupCpuLimit({ root: fixture(name) })).toBeUndefined()
  })

  it('defaults the workers to the whole CPUs of the quota, at least 1, never above the CPUs offered', () => {
    expect(defaultWorkers({ root: fixture('v2-limited'), cpus: 64 })).toBe(2)
    expect(defaultWorkers({ root: fixture('v2-half'), cpus: 64 })).toBe(1)
    expect(defaultWorkers({ root: fixture('v2-nested'), cpus: 64 })).toBe(3)
    expect(defaultWorkers({ root: fixture('v1-limited'), cpus: 2 })).toBe(2)
    expect(defaultWorkers({ root: fixture('v2-unlimited'), cpus: 8 })).toBe(8)
    expect(defaultWorkers({ root: fixture('v1-unlimited'), cpus: 8 })).toBe(8)
  })

  it('answers on this machine without throwing, within the CPUs it offers', () => {
    const n = defaultWorkers()
    expect(Number.isInteger(n) && n >= 1 && n <= availableParallelism()).toBe(true)
  })
})
