/**
 * `node dist/bench/gateway-bare.js <config>`: the gateway without ops (no access log, no
 * metrics, no admin), i.e. startGateway alone: what forwarding itself costs.
 */
import { startGateway } from '../src/cli/gateway-root.js'

const configFile = process.argv[2]
if (!configFile) throw new Error('usage: gateway-bare.js <config>')
const gw = await startGateway({ configFile })
process.stdout.write(JSON.stringify({ msg: 'listening', url: gw.url }) + '\n')
const stop = (): void => void gw.close().finally(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
