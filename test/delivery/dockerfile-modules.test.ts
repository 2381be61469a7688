/**
 * The image's build step imports what `serve` runs, to prove the whole program loads in the
 * image. It once named modules by their built paths, which no compiler checks: a renamed module
 * (cli/serve.ts became cli/gateway-root.ts) broke the image build only, minutes into a CI run. It
 * now bundles as `npm run build` does and imports every chunk of the bundle, whatever their names;
 * any module it still names must be one that src/ compiles to.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')

/** The src/ sources of the dist/ modules the Dockerfile's import check names. */
function importedSources(dockerfile: string): string[] {
  const out: string[] = []
  for (const m of dockerfile.matchAll(/for \(const m of \[([^\]]*)\]\) await import\('\.\/dist\/(src\/[^']*\/)' \+ m\)/g)) {
    for (const name of (m[1] ?? '').matchAll(/'([^']+)\.js'/g)) out.push(`${m[2] ?? ''}${name[1] ?? ''}.ts`)
  }
  for (const m of dockerfile.matchAll(/import\('\.\/dist\/(src\/[^']+)\.js'\)/g)) out.push(`${m[1] ?? ''}.ts`)
  return out
}

describe('the Dockerfile', () => {
  it("imports, in its build check, only modules that src/ has", () => {
    const sources = importedSources(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
    expect(sources.filter((s) => !existsSync(join(ROOT, s)))).toEqual([])
  })

  it('bundles as npm run build does and imports every chunk of the bundle', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    const build = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build ?? ''
    expect(build).toContain('node dist/scripts/bundle.js')
    expect(dockerfile).toMatch(/&& node dist\/scripts\/bundle\.js \\\n/)
    expect(dockerfile).toContain("for (const f of readdirSync('dist/src/chunks')) await import('./dist/src/chunks/' + f)")
    expect(dockerfile).toContain('COPY --from=build /src/dist/src/chunks ./dist/src/chunks')
  })

  it('reads the module list as the build step writes it', () => {
    const step = `node --input-type=module -e "for (const m of ['a.js', 'b.js']) await import('./dist/src/cli/' + m); await import('./dist/src/dance/index.js'); await import('jose')"`
    expect(importedSources(step)).toEqual(['src/cli/a.ts', 'src/cli/b.ts', 'src/dance/index.ts'])
  })
})
