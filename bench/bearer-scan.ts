/**
 * `node dist/bench/bearer-scan.js`: CPU time of the gateway-bearer scan (callers' credential-text.ts)
 * over the worst text a caller can build, per 16 KiB (the largest request head, limits.md), against
 * ordinary header text and a 43-character run that is never hashed. The worst text makes every
 * window the scan may hash be hashed: 44-character periods with "-" at offsets 0, 12 and 24, each
 * "-" preceded by 11 characters a tag could be (so three windows in each 44 characters end at a "-",
 * start after one and pass the no-hash check), 3 hashes per 44 characters. Figures quoted in
 * docs/paths.md ("The cost of the bearer scan"). CPU time (process.cpuUsage), median of the rounds.
 */
import { carriesGatewayBearer } from '../src/callers/bearer-shape.js'
import { credentialsToLookFor, judgeOutboundUrl, urlCarriesCredential } from '../src/callers/index.js'

const HEAD = 16 * 1024
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 9)

/** `n` characters of the worst pattern: every allowed window hashed. */
function worst(n: number): string {
  const tagLike = 'aaaaaaaaaac' // 10 tag characters and a last one (c): passes the cheap check, fails the hash
  const period = `-${tagLike}-${tagLike}-AAAAAAAA${tagLike}`
  return period.repeat(Math.ceil(n / period.length) + 1).slice(0, n)
}

function cpuMsPerCall(run: () => unknown, calls: number): number {
  const medians: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.cpuUsage()
    for (let i = 0; i < calls; i++) run()
    const d = process.cpuUsage(t)
    medians.push((d.user + d.system) / 1000 / calls)
  }
  return medians.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number
}

const worstHead = worst(HEAD)
const ORIGIN = 'https://api.partner.test:8443'
const worstPath = `/${worstHead}%2525252F`
const none = credentialsToLookFor([])
const cases: { name: string; run: () => unknown }[] = [
  { name: 'worst 16 KiB value, as a header is judged (one scan)', run: () => carriesGatewayBearer(worstHead) },
  { name: 'worst 16 KiB target holding a twice-encoded escape: as written, decoded once and twice (three scans; at one level it reads as decoded once and twice)', run: () => urlCarriesCredential(`${worstHead}%252F`, none) },
  { name: 'worst 16 KiB target holding an escape encoded four times: as written, decoded once and twice, and at one level as written and decoded (five scans, the most)', run: () => urlCarriesCredential(`${worstHead}%2525252F`, none) },
  // The forward step's outbound URL: that target unchanged after the endpoint's origin, judged whole (a changed one) or by its origin alone (the target already judged).
  { name: 'outbound URL of that target changed by the gateway: judged whole (five scans)', run: () => judgeOutboundUrl({ origin: ORIGIN, href: ORIGIN + worstPath }, ORIGIN, none, 'the URL') },
  { name: 'outbound URL of that target unchanged: its origin alone judged', run: () => judgeOutboundUrl({ origin: ORIGIN, href: ORIGIN + worstPath }, ORIGIN, none, 'the URL', { path: worstPath, query: '' }) },
  // The same text with each window's last character one no tag ends in: the scan without its hashes.
  { name: 'the same 16 KiB, no window passing the cheap check (no hash)', run: () => carriesGatewayBearer(worstHead.replaceAll('c-', 'b-')) },
  { name: 'ordinary 16 KiB of header text (no window hashed)', run: () => carriesGatewayBearer('accept-language: en-US,en;q=0.9; session=theme-dark; '.repeat(300).slice(0, HEAD)) },
]
console.log(`worst pattern: ${Math.floor(HEAD / 44) * 3} windows hashed per 16 KiB (3 per 44 characters)`)
for (const c of cases) console.log(`${cpuMsPerCall(c.run, 50).toFixed(3)} ms  ${c.name}`)
