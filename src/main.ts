#!/usr/bin/env node
/** argv → one of cli/*; nothing else. */
import { Option } from 'commander'
import { runCheck } from './cli/check.js'
import { runServe } from './cli/serve.js'
import { defaultWorkers, gatewayVersion, LOG_LEVELS, type LogFormat, type LogLevel } from './ops/index.js'
import { writeDevPki, writeInterceptionCa } from './tls/index.js'
import { addOAuth1Commands } from './cli/oauth1-sign.js'
import { addTestAuthCommand } from './cli/test-auth.js'
import { configOption, createProgram, parsePort, parsePositiveInteger, runProgram, UsageError } from './cli/options.js'

const program = createProgram('mtls-gateway', 'Outbound gateway: mTLS, OAuth 1.0a signing and authorization fields').version(gatewayVersion())

program
  .command('serve')
  .description('run the gateway')
  .addOption(configOption())
  .option('--port <port>', 'override listen.port', parsePort)
  .addOption(new Option('--workers <n>', 'worker processes sharing the port (1: no cluster)').default(defaultWorkers(), 'CPUs of the container quota (cgroup), else of the machine').argParser(parsePositiveInteger).env('MTLS_GATEWAY_WORKERS'))
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info').env('MTLS_GATEWAY_LOG_LEVEL'))
  .addOption(new Option('--log-format <format>', 'json lines, or one plain line per entry for a terminal').choices(['json', 'pretty']).default('json'))
  .action(async (o: { config: string; port?: number; workers: number; logLevel: LogLevel; logFormat: LogFormat }) => {
    await runServe({ configFile: o.config, workers: o.workers, logLevel: o.logLevel, logFormat: o.logFormat, ...(o.port !== undefined ? { port: o.port } : {}) })
  })

program
  .command('check')
  .description('validate the config and every client bundle (like nginx -t)')
  .addOption(configOption())
  .action((o: { config: string }) => {
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
    if (what === 'interception-ca') {
      for (const [k, v] of Object.entries(await writeInterceptionCa(o.dir))) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
      return
    }
    if (what !== 'dev') throw new UsageError(`pki: unknown target "${what}": use dev or interception-ca`)
    const files = await writeDevPki({ dir: o.dir, kind: o.key, ...(o.host ? { hosts: o.host } : {}) })
    for (const [k, v] of Object.entries(files)) process.stdout.write(`${k.padEnd(17)} ${v}\n`)
  })

addOAuth1Commands(program)
addTestAuthCommand(program)

await runProgram(program, process.argv)
