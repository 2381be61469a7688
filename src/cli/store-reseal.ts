/**
 * `mtls-gateway store reseal [--dry-run]`: ends a seal-key rotation. Every record sealed under a
 * key other than the active one (users' tokens, dance state, links, caller bearers and their JWE
 * claims, the console's session key) is sealed again under it, each written only over the value it
 * read, so a running gateway's workers and replicas may go on meanwhile. Prints a line per kind
 * and what is left under other keys; exit 0 when nothing is (the old keys may then be removed),
 * 1 otherwise. main.ts defines the command and imports this module only when it runs.
 */
import { sealedBearerRecords } from '../callers/index.js'
import { needsStore, type GatewayConfig } from '../config/index.js'
import { resealSessionKey } from '../console/index.js'
import { sealedDanceRecords } from '../dance/index.js'
import type { Gateway } from '../gateway/index.js'
import { storeConfigOf } from '../runtime/index.js'
import { openStore, resealRecords, type ResealCount, type SealedKind } from '../store/index.js'
import { runOnConfig, type OneShotResult } from './one-shot.js'

/** Runs the walk on the config's store; never throws for config or store problems. */
export function runStoreReseal(configFile: string, dryRun: boolean): Promise<OneShotResult> {
  return runOnConfig(configFile, 'Store reseal failed', async (gateway) => {
    const { records, claims } = gateway.sealers
    if (!needsStore(gateway.config) || (records === undefined && claims === undefined)) {
      return { ok: true, output: 'Nothing to reseal: this config keeps nothing sealed in a store (no store.sealKeys, no callers.gatewayKeys).\n' }
    }
    const store = openStore(storeConfigOf(gateway.config))
    try {
      const kinds: SealedKind[] = [...(records ? sealedDanceRecords(records) : []), ...sealedBearerRecords({ records, claims })]
      const counts = await resealRecords(store, kinds, dryRun)
      const session = await resealSessionKey({ store, sealer: records, sealKeyIds: gateway.config.store.sealKeys.map((k) => k.id) }, dryRun)
      return report(gateway, session ? [...counts, session] : counts, dryRun)
    } finally {
      await store.close()
    }
  })
}

function report(gateway: Gateway, counts: readonly ResealCount[], dryRun: boolean): OneShotResult {
  const config = gateway.config
  const lines = [`${dryRun ? 'Dry run: nothing written. ' : ''}${activeLine(config, gateway.sealers.records?.activeId)}`, ...counts.map((c) => `  ${countLine(c, dryRun)}`)]
  const left = sum(counts.map((c) => c.stale))
  if (Object.keys(left).length === 0) {
    const idle = config.store.sealKeys.map((k) => k.id).filter((id) => id !== gateway.sealers.records?.activeId)
    lines.push(`Left under other keys: none.${idle.length > 0 ? ` No record is sealed under ${idle.join(', ')} any more: ${idle.length > 1 ? 'they' : 'it'} may be removed from store.sealKeys.` : ''}`)
  } else {
    lines.push(`Left under other keys: ${byKey(left)}. ${dryRun ? 'Run without --dry-run to seal them again under the active key.' : 'Written again under them while this ran (a worker or replica still sealing under an old store.activeKey?): run again once every replica has the new config.'}`)
  }
  return { ok: Object.keys(left).length === 0, output: `${lines.join('\n')}\n` }
}

function activeLine(config: GatewayConfig, activeId: string | undefined): string {
  if (activeId === undefined) return 'No store.sealKeys: JWE claims are sealed under keys derived from callers.gatewayKeys (the last one seals).'
  return `Active seal key: ${activeId} (store.sealKeys: ${config.store.sealKeys.map((k) => k.id).join(', ')}).`
}

function countLine(c: ResealCount, dryRun: boolean): string {
  const parts: string[] = []
  if (c.current > 0) parts.push(`${c.current} already under ${c.activeId}`)
  if (c.resealed > 0) parts.push(`${c.resealed} sealed again under ${c.activeId}`)
  if (Object.keys(c.stale).length > 0) parts.push(`${dryRun ? 'to seal again' : 'left'}: ${byKey(c.stale)}`)
  if (Object.keys(c.unreadable).length > 0) parts.push(`not opened (a key not configured, or damaged; as good as expired, left as they are): ${byKey(c.unreadable)}`)
  return `${c.name}: ${c.records} ${c.records === 1 ? 'record' : 'records'}${c.records > 0 ? `: ${parts.join('; ')}` : ''}`
}

const byKey = (ids: Readonly<Record<string, number>>): string =>
  Object.entries(ids)
    .map(([id, n]) => `${n} under ${id}`)
    .join(', ')

function sum(all: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const ids of all) for (const [id, n] of Object.entries(ids)) out[id] = (out[id] ?? 0) + n
  return out
}
