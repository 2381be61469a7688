/**
 * Listener timeouts, connection caps, body limits and the cap on caller-fault log lines. Their defaults live only in the schema (read from
 * it here), so the config reference, the JSON Schema and the running gateway cannot disagree.
 */
import { configSchema } from './schema.js'
import { parseDuration, parseSize, plainNumber } from './units.js'
import { obj, type Raw, type Report } from './normalize-util.js'
import { MAX_BUFFERED_BODY, MAX_BUFFERED_BODY_WHY, MAX_BUFFERED_TOTAL, MAX_BUFFERED_TOTAL_WHY } from './schema-operations.js'
import type { AdminTimeoutsConfig, ClientTimeoutsConfig, ConnectionLimitsConfig, GatewayConfig, ListenTimeoutsConfig } from './types.js'

const listenProps = configSchema.properties.listen.properties
const adminProps = configSchema.properties.admin.properties

type DurationNode = { readonly default: string }
type Nodes<K extends string> = { readonly [P in K]: DurationNode }

const ms = (raw: Raw, key: string, node: DurationNode): number => parseDuration((raw[key] as string | number | undefined) ?? node.default)

function clientTimeouts(raw: Raw, nodes: Nodes<'headers' | 'bodyIdle' | 'bufferedBody' | 'keepAlive'>): ClientTimeoutsConfig {
  return {
    headersMs: ms(raw, 'headers', nodes.headers),
    bodyIdleMs: ms(raw, 'bodyIdle', nodes.bodyIdle),
    bufferedBodyMs: ms(raw, 'bufferedBody', nodes.bufferedBody),
    keepAliveMs: ms(raw, 'keepAlive', nodes.keepAlive),
  }
}

function connections(raw: Raw, node: { properties: { max: { default: number }; perAddress: { default: number } } }): ConnectionLimitsConfig {
  return {
    max: (raw.max as number | undefined) ?? node.properties.max.default,
    perAddress: (raw.perAddress as number | undefined) ?? node.properties.perAddress.default,
  }
}

/** `listen.timeouts` and `listen.connections` with the schema's defaults filled in. */
export function normalizeListenLimits(listen: Raw): { timeouts: ListenTimeoutsConfig; connections: ConnectionLimitsConfig } {
  const t = obj(listen.timeouts)
  const nodes = listenProps.timeouts.properties
  return {
    timeouts: { ...clientTimeouts(t, nodes), tlsHandshakeMs: ms(t, 'tlsHandshake', nodes.tlsHandshake), sendIdleMs: ms(t, 'sendIdle', nodes.sendIdle), tunnelIdleMs: ms(t, 'tunnelIdle', nodes.tunnelIdle) },
    connections: connections(obj(listen.connections), listenProps.connections),
  }
}

/** `admin.timeouts` and `admin.connections` with the schema's defaults filled in. */
export function normalizeAdminLimits(admin: Raw): { timeouts: AdminTimeoutsConfig; connections: ConnectionLimitsConfig } {
  const t = obj(admin.timeouts)
  const nodes = adminProps.timeouts.properties
  return {
    timeouts: { ...clientTimeouts(t, nodes), tlsHandshakeMs: ms(t, 'tlsHandshake', nodes.tlsHandshake) },
    connections: connections(obj(admin.connections), adminProps.connections),
  }
}

const limitProps = configSchema.properties.limits.properties

/** `limits` with the schema's defaults filled in; a total below one body's limit is reported (it would refuse bodies that limit allows). */
export function normalizeBodyLimits(raw: Raw, report: Report): { maxBufferedBody: number; maxBufferedTotal: number } {
  const size = (key: 'maxBufferedBody' | 'maxBufferedTotal'): number => parseSize((raw[key] as string | number | undefined) ?? limitProps[key].default)
  const limits = { maxBufferedBody: size('maxBufferedBody'), maxBufferedTotal: size('maxBufferedTotal') }
  // As the schema's `maximum` reads (type-hint.ts's pastMaximum), in bytes: a size's unit makes it a string the schema cannot compare.
  const past = (key: keyof typeof limits, max: number | string, why: string): void => {
    const bytes = parseSize(max)
    if (limits[key] > bytes) report([key], `${plainNumber(limits[key])} bytes is more than the maximum, ${plainNumber(bytes)} bytes${typeof max === 'string' ? ` (${max})` : ''}: ${why}`)
  }
  past('maxBufferedBody', MAX_BUFFERED_BODY, MAX_BUFFERED_BODY_WHY)
  past('maxBufferedTotal', MAX_BUFFERED_TOTAL, MAX_BUFFERED_TOTAL_WHY)
  if (limits.maxBufferedTotal !== 0 && limits.maxBufferedTotal < limits.maxBufferedBody) {
    report(['maxBufferedTotal'], `${plainNumber(limits.maxBufferedTotal)} bytes is less than limits.maxBufferedBody (${plainNumber(limits.maxBufferedBody)} bytes): a body that limit allows could never be read; raise limits.maxBufferedTotal, lower limits.maxBufferedBody, or set limits.maxBufferedTotal to 0 (no total)`)
  }
  return limits
}

/** `drain` and `logging` (the cap on lines unauthenticated clients can cause), defaults from the schema. */
export function normalizeDrainAndLogging(drain: Raw, logging: Raw): Pick<GatewayConfig, 'drain' | 'logging'> {
  const faults = obj(logging.callerFaults)
  const d = configSchema.properties.logging.properties.callerFaults.properties
  return {
    drain: { graceMs: parseDuration((drain.grace as string | number | undefined) ?? configSchema.properties.drain.properties.grace.default) },
    logging: { callerFaults: { burst: (faults.burst as number | undefined) ?? d.burst.default, intervalMs: parseDuration((faults.interval as string | number | undefined) ?? d.interval.default) } },
  }
}

/**
 * `endpoints[].timeouts.keepAlive`: undici's pool refuses a keep-alive of 0 ms when it makes a connection, so
 * `keepAlive: 0` (or `0.4ms`) loaded and then every call to the endpoint was a 502 ("upstream request failed
 * (UND_ERR_INVALID_ARG)"). It is at least 1 ms, refused at load.
 */
export function upstreamKeepAliveMs(v: unknown, report: Report): number {
  const kept = parseDuration((v as string | number | undefined) ?? configSchema.properties.endpoints.items.properties.timeouts.properties.keepAlive.default)
  if (kept < 1) report(['keepAlive'], `${String(v)} is less than 1ms: an idle pooled connection is kept for some time (undici refuses 0)`)
  return kept
}
