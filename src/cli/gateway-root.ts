/**
 * A gateway that serves requests: load, compile, listen (one process, or a `--workers`
 * worker; serve-command.ts picks). Also the in-process entry the tests and the demo use
 * (startGateway), so they run exactly what production runs. This is the composition root of
 * the request path: the runtime (built once), pipeline, API routes and listener are wired
 * here only, and every feature reads config from the snapshot in `ref`, never from here.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { loadConfig, withPlacedProblems, type GatewayConfig } from '../config/index.js'
import { startConfigs } from './worker-configs.js'
import { compileGateway, createKeptPools, type Gateway, type Resolve } from '../gateway/index.js'
import { createMinterSource } from './minter-source.js'
import { createConsoleLoader } from './console-loader.js'
import { createListener, type GatewayRef, type RequestRecord } from '../proxy/listener.js'
import { connectionCounter, type ConnectionEvents } from '../proxy/connection-guard.js'
import { bindListener, type ListenerBinding } from '../proxy/bind-listener.js'
import { createPipeline } from '../proxy/default-pipeline.js'
import { createAdmit } from '../proxy/steps/authenticate-caller.js'
import type { UserTokenSource } from '../proxy/steps/resolve-token.js'
import { createApiRouter, type ApiRoute } from '../api/router.js'
import { createTokenRoutes } from '../api/token.js'
import { lazyOAuth1Feature } from './lazy-dance.js'
import { anonymousSweepFeature } from './anonymous-sweep.js'
import { createRuntime, keepRequestObjectsYoung, type Observer, type Runtime } from '../runtime/index.js'
import { preloadJose, type Caller } from '../callers/index.js'
import type { ConfigTexts, Ops, RunningOps } from '../ops/index.js'
import { startTracing, type Tracing } from '../tracing/index.js'
import { tracingOptions } from './tracing-options.js'
import { storeProbes } from './store-probes.js'

export interface StartOptions {
  configFile: string
  /** A `--workers` worker's start: the texts of configFile its primary validated and their files' bytes, instead of the disk as it is now (not kept once built from). */
  configTexts?: ConfigTexts
  /** Overrides listen.host/port (tests use port 0). */
  listen?: { host?: string; port?: number }
  onDone?: (record: RequestRecord) => void
  /** Observability hooks (metrics); all optional. */
  hooks?: GatewayHooks
  /** DNS for upstream dials (tests inject misbehaving resolvers); default dns.lookup. */
  resolve?: Resolve
  /** Features to wire in (default: DEFAULT_FEATURES). */
  features?: readonly FeatureFactory[]
  /** Metrics, access log, admin, hot reload, drain (ops/createOps); absent: none of them. Its hooks apply unless `hooks` overrides one. */
  ops?: Ops
}

/** The observer hooks a gateway reports to (metrics and logs). */
export type GatewayHooks = Observer

/** Features that plug into the composition root (the OAuth dance, later issues). */
export interface Feature {
  routes?: ApiRoute[]
  userTokens?: UserTokenSource
  onIdentityMerge?: (caller: Caller, gateway: Gateway) => Promise<void>
  /** A reload compiled `gateway`, which may be put in force next (or still refused). */
  onCompiled?: (gateway: Gateway) => void
}

/** Features get the runtime and read config only from the snapshot of the request in hand; a promise while their modules load. */
export type FeatureFactory = (ctx: { runtime: Runtime; ref: GatewayRef }) => Feature | Promise<Feature>

/** The features a production gateway runs, in order (the sweep ends what a shortened callers.anonymousTtl ended). */
export const DEFAULT_FEATURES: readonly FeatureFactory[] = [lazyOAuth1Feature, anonymousSweepFeature]

export interface RunningGateway {
  readonly url: string
  /** How the listener was bound: its start-up line's fields, and a `::` that fell back to `0.0.0.0` (bind-listener.ts). */
  readonly binding: ListenerBinding
  readonly port: number
  readonly ref: GatewayRef
  readonly server: Server
  readonly runtime: Runtime
  /** Present when started with `ops`. */
  readonly ops?: RunningOps
  close(): Promise<void>
}

/** Config → snapshot, checked against the runtime: the one path of the start and of every reload. */
function snapshotCompiler(runtime: Runtime, resolve: Resolve | undefined): (c: GatewayConfig) => Gateway {
  // Process-lifetime like the observer's hooks: a reload keeps the pools it changed nothing about.
  const { onConnect, onEgressRefusal, onPoolEvicted } = runtime.observer, keptPools = createKeptPools()
  return (c) => {
    const g = compileGateway(c, { keptPools, ...(onConnect ? { onConnect } : {}), ...(onEgressRefusal ? { onEgressRefusal } : {}), ...(onPoolEvicted ? { onPoolEvicted } : {}), ...(resolve ? { resolve } : {}) })
    try {
      runtime.prepare(c)
    } catch (e) {
      void g.close()
      throw e
    }
    // The start awaits the import before it listens; a reload that adds the first app starts it.
    preloadJose(g.callers.apps).catch(() => undefined)
    return g
  }
}

/** The proxy pipeline and the /gateway/ API routes, with the features plugged in. */
function requestPath(runtime: Runtime, hooks: Observer, features: readonly Feature[]) {
  const userTokens = features.find((f) => f.userTokens)?.userTokens
  const merges = features.flatMap((f) => (f.onIdentityMerge ? [f.onIdentityMerge] : []))
  const stores = (g: Gateway) => runtime.bearerStores(g)
  const admitOptions = { stores, ...(hooks.onAuthFailure ? { onAuthFailure: hooks.onAuthFailure } : {}) }
  // The budget of buffered bodies is the runtime's (one per process, kept across reloads).
  const pipeline = createPipeline({
    admit: createAdmit(admitOptions),
    ...(userTokens ? { userTokens } : {}),
    ...(hooks.onSignature ? { onSignature: hooks.onSignature } : {}),
    bufferedBodies: runtime.bufferedBodies,
  })
  const api = createApiRouter([
    createTokenRoutes({
      ...admitOptions, throttleStore: () => runtime.store,
      onIdentityMerge: async (caller, g) => {
        for (const merge of merges) await merge(caller, g)
      },
    }),
    ...features.flatMap((f) => f.routes ?? []),
  ])
  return { pipeline, api, admitOptions }
}

/** Starts a gateway from a config file; resolves once listening. Closures here reach the snapshot through `ref` only: V8 gives them one shared context, so one naming `gateway` kept the start's snapshot for the process's life, long after reloads replaced it. */
export async function startGateway({ configTexts, ...o }: StartOptions): Promise<RunningGateway> {
  keepRequestObjectsYoung()
  const { start: startConfig, current: config } = startConfigs(o.configFile, configTexts)
  const hooks: Observer = { ...o.ops?.hooks, ...o.hooks }
  const runtime = createRuntime({ start: startConfig, observer: hooks, ...(configTexts?.store ? { storeOpenedWith: configTexts.store } : {}) })
  const compile = snapshotCompiler(runtime, o.resolve)
  let gateway: Gateway
  try {
    gateway = compile(config)
  } catch (e) {
    await runtime.close()
    throw e
  }
  const ref: GatewayRef = { current: gateway }
  await preloadJose(gateway.callers.apps)
  // Process-lifetime like the runtime: `tracing` other than its sampler is restart-only (runtime's RESTART_ONLY).
  const tracing = await startTracing(config.tracing, tracingOptions(ref, o.ops?.log.logger)).catch(async (e: unknown) => {
    await Promise.all([ref.current.close(), runtime.close()])
    throw e
  })
  if (tracing) o.ops?.metrics.enableExemplars(), o.ops?.metrics.watchDroppedSpans(() => ({ queue_full: tracing.droppedSpans(), export_failed: tracing.failedExportSpans() }))
  const features = await Promise.all((o.features ?? DEFAULT_FEATURES).map((make) => make({ runtime, ref })))
  const { pipeline, api, admitOptions } = requestPath(runtime, hooks, features)
  const tls = gateway.listenerTls.proxy
  const onDone = o.ops && o.onDone ? chain(o.ops.onDone, o.onDone) : (o.ops?.onDone ?? o.onDone)
  const connect = {
    current: () => ref.current,
    minter: createMinterSource(ref, hooks.onMint),
    admit: admitOptions,
    ...(hooks.onTunnel ? { onTunnel: hooks.onTunnel } : {}),
    ...(hooks.onEgressRefusal ? { onEgressRefusal: hooks.onEgressRefusal } : {}),
  }
  const server = createListener({ ref, pipeline, api, connect, ...(tls ? { tls } : {}), ...(onDone ? { onDone } : {}), ...(hooks.connections ? { events: hooks.connections } : {}), ...(tracing ? { tracing } : {}), ...(hooks.onAuthFailure ? { onAuthFailure: hooks.onAuthFailure } : {}) })
  const store = storeProbes(runtime, ref)
  o.ops?.metrics.watchStore(store.ping, () => runtime.store !== undefined, store.evictionRisk, store.failoverWatch)
  o.ops?.metrics.watchBufferedBodies(runtime.bufferedBodies)
  o.ops?.metrics.watchConnections('proxy', connectionCounter(server))
  const consoles = createConsoleLoader()
  const ops = await o.ops?.start({ configFile: o.configFile, ref, server, compile: reloadCompiler(compile, tracing, (g) => {
    consoles.follow(g.config)
    for (const f of features) f.onCompiled?.(g)
  }), probes: store.probes, adminRoutes: (facts) => consoles.mount(() => ref.current.config.admin, (hosts) => hosts.singleProcessConsole(facts, ref, runtime), facts.log), ...(tracing ? { onDrained: (budgetMs: number) => tracing.shutdown(budgetMs) } : {}) })
  const host = o.listen?.host ?? config.listen.host
  const port = o.listen?.port ?? config.listen.port
  const binding = await bindListener(server, { port, host, key: 'listen.host', tls: tls !== undefined }).catch(async (e: unknown) => {
    await ops?.close()
    throw e
  })
  const addr = server.address() as AddressInfo
  return {
    url: binding.url,
    binding,
    port: addr.port,
    ref,
    server,
    runtime,
    ...(ops ? { ops } : {}),
    close: async () => {
      await ops?.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await ref.current.close()
      await runtime.close()
      await tracing?.shutdown()
    },
  }
}

/** A reload's compile: it also renews the OTLP exporter's TLS files (read first: unreadable fails the reload), then tells `onCompiled` (modules the snapshot needs load). */
function reloadCompiler(compile: (c: GatewayConfig) => Gateway, tracing: Tracing | undefined, onCompiled: (g: Gateway) => void): (c: GatewayConfig) => Gateway {
  return (c) => {
    const renewExport = withPlacedProblems(c, () => tracing?.renewExport(c.tracing))
    const g = compile(c)
    renewExport?.()
    onCompiled(g)
    return g
  }
}

const chain = <T>(...fns: ((v: T) => void)[]): ((v: T) => void) => (v) => fns.forEach((fn) => fn(v))
