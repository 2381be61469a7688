/**
 * scripts/test-image.sh's own command line: `--help` prints the modes and stops, and an unknown
 * mode is a usage error, both before the script probes the machine (an overlay mount) or touches
 * buildah's storage. Stand-ins for `buildah` and `mount` on PATH record any call.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'test-image-script-'))
const called = join(dir, 'called')
for (const tool of ['buildah', 'mount']) {
  writeFileSync(join(dir, tool), `#!/bin/sh\necho ${tool} >> ${called}\nexit 1\n`)
  chmodSync(join(dir, tool), 0o755)
}

afterAll(() => rmSync(dir, { recursive: true, force: true }))

function script(mode: string): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` }
  delete env.MTLS_GATEWAY_BUILDAH_DRIVER
  return spawnSync('bash', ['scripts/test-image.sh', mode], { env, encoding: 'utf8', timeout: 60_000 })
}

describe('scripts/test-image.sh command line', () => {
  it('--help prints every mode and exits 0, touching nothing', () => {
    const r = script('--help')
    expect(r.status).toBe(0)
    for (const mode of ['--build-only', '--bases-cached', '--bases', '--clean', '--help']) expect(r.stdout).toContain(`bash scripts/test-image.sh ${mode}`)
    expect(r.stdout).not.toMatch(/^#/m)
    expect(existsSync(called)).toBe(false)
  })

  it('an unknown mode is a usage error (exit 2) naming it, touching nothing', () => {
    const r = script('--cleen')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("test-image.sh: unknown mode '--cleen'")
    expect(r.stderr).toContain('bash scripts/test-image.sh --clean')
    expect(existsSync(called)).toBe(false)
  })
})
