import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Builds the Go program `pkg` (a folder of this repository) to `bin` with the Debian golang-go and the Debian Go libraries (GOPATH mode). */
export function goBuild(pkg: string, bin: string): void {
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', CGO_ENABLED: '0', GOCACHE: process.env.GOCACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/go-build') }
  const built = spawnSync('go', ['build', '-o', bin, pkg], { env, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`go build of ${pkg} failed:\n${built.stderr}`)
}
