/**
 * The Dockerfile under a layer cache (scripts/test-image.sh builds with `buildah bud --layers`):
 * buildah keys a RUN by the build arguments' values, but LABEL, ENV, COPY, USER and the like by
 * their text. One of those that expands a stage's ARG before any RUN of that stage is therefore
 * served from the cache with the value of an earlier build, and every later layer inherits it:
 * with the version LABEL first, an image built after a version bump was labelled with the old
 * version (checked with buildah 1.28: `--build-arg VERSION=2.0.0` after 1.0.0 gave 1.0.0).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

interface Instruction { line: number; keyword: string; text: string }

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  let current: Instruction | undefined
  text.split('\n').forEach((raw, i) => {
    if (/^\s*#/.test(raw)) return
    const body = raw.replace(/\\\s*$/, '')
    if (current) current.text += ' ' + body.trim()
    else if (body.trim() !== '') current = { line: i + 1, keyword: (body.trim().split(/\s+/)[0] ?? '').toUpperCase(), text: body.trim() }
    if (current && !/\\\s*$/.test(raw)) {
      out.push(current)
      current = undefined
    }
  })
  return out
}

/** Instructions other than RUN that expand an ARG of their stage before the stage's first RUN. */
function cachedWithStaleArguments(text: string): string[] {
  const found: string[] = []
  let args = new Set<string>()
  let ran = false
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      args = new Set()
      ran = false
    } else if (ins.keyword === 'ARG') args.add((ins.text.slice(4).split('=')[0] ?? '').trim())
    else if (ins.keyword === 'RUN') ran = true
    else if (!ran) {
      const used = [...ins.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string).filter((name) => args.has(name))
      if (used.length > 0) found.push(`line ${ins.line}: ${ins.keyword} expands ${used.join(', ')} before any RUN of its stage`)
    }
  }
  return found
}

describe('Dockerfile under a layer cache', () => {
  it('no instruction but RUN expands a build argument before its stage has run a RUN', () => {
    expect(cachedWithStaleArguments(readFileSync('Dockerfile', 'utf8'))).toEqual([])
  })

  it('the check finds the case it is for', () => {
    expect(cachedWithStaleArguments('FROM base AS a\nARG VERSION=1\nLABEL v="${VERSION}" \\\n  w=1\nRUN true\nLABEL x="$VERSION"\nFROM base\nENV V=$VERSION\n')).toEqual([
      'line 3: LABEL expands VERSION before any RUN of its stage',
    ])
  })
})
