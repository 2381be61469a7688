#!/usr/bin/env node
/**
 * argv → one of cli/*; nothing else. A command's module is imported when that command runs, so
 * `--version`, `--help` and a usage error load only commander, cli/options and process/.
 */
import { Option } from 'commander'
import { defaultWorkers, gatewayVersion, holdServeSignals, LOG_LEVELS, type LogFormat, type LogLevel } from './process/index.js'
import { addOAuth1Commands } from './cli/oauth1-sign.js'
import { configOption, createProgram, parseDurationFlag, parsePort, parsePositiveInteger, runProgram, UsageError } from './cli/options.js'

// `serve` holds its signals before anything else loads (process/held-signals.ts): its own modules take a second or more.
if (process.argv[2] === 'serve') holdServeSignals()

const program = createProgram('mtls-gateway', 'Outbound gateway: mTLS, OAuth 1.0a signing and authorization fields').version(gatewayVersion())

program
  .command('serve')
  .description('run the gateway')
  .addOption(configOption())
  .option('--port <port>', 'override listen.port', parsePort)
  .addOption(new Option('--workers <n>', 'worker processes sharing the port (1: no cluster)').default(defaultWorkers(), 'CPUs of the container quota (cgroup), else of the machine').argParser(parsePositiveInteger).env('MTLS_GATEWAY_WORKERS'))
  .addOption(new Option('--reload-timeout <duration>', 'with --workers above 1 (one process ignores it): how long a reload waits for each worker to answer it, and for a starting worker to serve before it is killed and replaced; ms, s, m or h, e.g. 500ms, 45s, 2m (default 30s)').argParser(parseDurationFlag).env('MTLS_GATEWAY_RELOAD_TIMEOUT'))
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info').env('MTLS_GATEWAY_LOG_LEVEL'))
  .addOption(new Option('--log-format <format>', 'json lines, or one plain line per entry for a terminal').choices(['json', 'pretty']).default('json'))
  .action(async (o: { config: string; port?: number; workers: number; reloadTimeout?: number; logLevel: LogLevel; logFormat: LogFormat }) => {
    const { runServe } = await import('./cli/serve-command.js')
    await runServe({ configFile: o.config, workers: o.workers, logLevel: o.logLevel, logFormat: o.logFormat, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.reloadTimeout !== undefined ? { reloadTimeoutMs: o.reloadTimeout } : {}) })
  })

program
  .command('check')
  .description('validate the config and every client bundle (like nginx -t)')
  .addOption(configOption())
  .action(async (o: { config: string }) => {
    const { runCheck } = await import('./cli/check.js')
    const result = runCheck(o.config)
    ;(result.ok ? process.stdout : process.stderr).write(result.output)
    process.exitCode = result.ok ? 0 : 1
  })

program
  .command('pki')
  .argument('[what]', '"dev": a throw-away root, intermediate, server and client (dev only); "interception-ca": the CA that mints CONNECT leaves', 'dev')
  .description('write certificates: a dev PKI, or the interception CA')
  .option('-d, --dir <dir>', 'output directory', 'certs/dev')
  .option('--host <name...>', 'extra server names (dev)')
  .addOption(new Option('--key <kind>', 'key type for dev').choices(['p256', 'p384', 'rsa2048']).default('p256'))
  .action(async (what: string, o: { dir: string; host?: string[]; key: 'p256' | 'p384' | 'rsa2048' }) => {
    if (what !== 'dev' && what !== 'interception-ca') throw new UsageError(`pki: unknown target "${what}": use dev or interception-ca`)
    const { writeDevPki, writeInterceptionCa } = await import('./tls/index.js')
    const files = what === 'interception-ca' ? await writeInterceptionCa(o.dir) : await writeDevPki({ dir: o.dir, kind: o.key, ...(o.host ? { hosts: o.host } : {}) })
    for (const [k, v] of Object.entries(files)) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
  })

addOAuth1Commands(program)

program
  .command('store')
  .description("the gateway's store")
  .command('reseal')
  .description('seal every record still under a store.sealKeys key other than store.activeKey again under it (ends a rotation); exit 1 while any is left')
  .addOption(configOption())
  .option('--dry-run', 'count by key only; write nothing')
  .action(async (o: { config: string; dryRun?: boolean }) => {
    const { runStoreReseal } = await import('./cli/store-reseal.js')
    const result = await runStoreReseal(o.config, o.dryRun === true)
    ;(result.ok ? process.stdout : process.stderr).write(result.output)
    process.exitCode = result.ok ? 0 : 1
  })

program
  .command('test-auth')
  .description("test an OAuth 1.0a profile: obtain a request token over the endpoint's mTLS")
  .argument('<profile>', 'profile name')
  .option('-t, --tenant <tenant>', 'tenant (profiles with tenancy)')
  .addOption(configOption())
  .action(async (profile: string, o: { tenant?: string; config: string }) => {
    const { runTestAuth } = await import('./cli/test-auth.js')
    const result = await runTestAuth(o.config, profile, o.tenant)
    ;(result.ok ? process.stdout : process.stderr).write(result.output)
    process.exitCode = result.ok ? 0 : 1
  })

program
  .command('test-endpoint')
  .description("test an endpoint's connection: a GET of its base path over a new mutual-TLS connection, step by step")
  .argument('[endpoint]', 'endpoint name')
  .option('-t, --tenant <tenant>', "tenant (an endpoint with {tenant} in its URL, or a tenant's own bundle)")
  .option('--all', 'every endpoint and tenant bundle, at most 8 at once; exit 1 when any fails')
  .addOption(configOption())
  .action(async (endpoint: string | undefined, o: { tenant?: string; all?: boolean; config: string }) => {
    if ((endpoint === undefined) === (o.all !== true)) throw new UsageError('test-endpoint: name one endpoint, or give --all')
    if (o.all && o.tenant !== undefined) throw new UsageError('test-endpoint: --tenant names the tenant of one endpoint: not with --all (which tests each tenant bundle)')
    const { runTestAllEndpoints, runTestEndpoint } = await import('./cli/test-endpoint.js')
    const result = endpoint === undefined ? await runTestAllEndpoints(o.config) : await runTestEndpoint(o.config, endpoint, o.tenant)
    ;(result.ok ? process.stdout : process.stderr).write(result.output)
    process.exitCode = result.ok ? 0 : 1
  })

await runProgram(program, process.argv)
