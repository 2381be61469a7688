/** The gateway's version, as `--version` prints it and the build-info metric labels it. */
import { readFileSync } from 'node:fs'

/** The gateway's version from its package.json (dist/src/process → the package root), else "unknown". */
export function gatewayVersion(): string {
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'mtls-gateway' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // Not there from this layout (tests run the sources, the image runs dist/): try the next.
    }
  }
  return 'unknown'
}
