import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'

/** Builds the Go program `pkg` (a folder of this repository) to `bin` with the Debian golang-go and the Debian Go libraries (GOPATH mode). */
export function goBuild(pkg: string, bin: string): void {
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', CGO_ENABLED: '0', GOCACHE: process.env.GOCACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/go-build') }
  const built = spawnSync('go', ['build', '-o', bin, pkg], { env, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`go build of ${pkg} failed:\n${built.stderr}`)
}

const CACHE = join(tmpdir(), 'mtls-gateway-go-bin')
const WEEK_MS = 7 * 86_400_000

/**
 * The program `pkg` built once for as long as nothing it is built from changes: its source files,
 * and the Debian packages (Go and its libraries: any dpkg run changes /var/lib/dpkg/status). Two
 * dozen test files render the chart: a build each (a link, seconds on a loaded machine, blocking
 * the worker) was repeated work. Built to a name of its own, then renamed: parallel builders
 * never run a half-written file.
 */
export function goBinary(pkg: string): string {
  const dir = resolve(pkg)
  const name = basename(dir)
  const hash = createHash('sha256')
  for (const file of readdirSync(dir, { withFileTypes: true }).filter((f) => f.isFile()).map((f) => f.name).sort()) hash.update(`${file}\0`).update(readFileSync(join(dir, file))).update('\0')
  const dpkg = statSync('/var/lib/dpkg/status', { throwIfNoEntry: false })
  hash.update(`dpkg ${dpkg?.mtimeMs ?? 'none'}`)
  const bin = join(CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`)
  if (existsSync(bin)) return bin
  mkdirSync(CACHE, { recursive: true })
  const partial = `${bin}.${process.pid}.partial`
  goBuild(pkg, partial)
  renameSync(partial, bin)
  // Other builds of this program made a week ago or more (sources or packages since changed) go.
  for (const other of readdirSync(CACHE)) {
    const built = other.startsWith(`${name}-`) ? statSync(join(CACHE, other), { throwIfNoEntry: false }) : undefined
    if (built && Date.now() - built.mtimeMs > WEEK_MS) rmSync(join(CACHE, other), { force: true })
  }
  return bin
}
