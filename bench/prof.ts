/**
 * `node dist/bench/prof.js <file.cpuprofile> [top]`: a text view of a `node --cpu-prof`
 * profile (e.g. from `npm run bench -- --profile DIR`): self time by function, and total
 * (inclusive) time by function, each as a share of the samples.
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: Node[]
  samples: number[]
}

const file = process.argv[2]
if (!file) throw new Error('usage: prof.js <file.cpuprofile> [top]')
const top = Number(process.argv[3] ?? 40)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const hits = new Map<number, number>()
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1)
const total = profile.samples.length

const label = (n: Node): string => {
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/').replace(/^node:/, '')
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`
}
const self = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, count] of hits) {
  const n = byId.get(id) as Node
  self.set(label(n), (self.get(label(n)) ?? 0) + count)
  // Each distinct frame on the stack gets the sample once (recursion counted once).
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as Node)
    if (seen.has(l)) continue
    seen.add(l)
    inclusive.set(l, (inclusive.get(l) ?? 0) + count)
  }
}
process.stdout.on("error", () => process.exit(0)) // piped into head
const print = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title} (${total} samples)\n`)
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}\n`)
}
print('self', self)
print('total', inclusive)
