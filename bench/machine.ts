/** What the run ran on: CPU, cores, memory, kernel, Node, nginx and undici versions, load. */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { promisify } from 'node:util'
import { createRequire } from 'node:module'

export interface MachineInfo {
  cpu: string
  cores: number
  memGiB: number
  kernel: string
  node: string
  nginx: string
  undici: string
  loadBefore: number[]
  loadAfter?: number[]
  summary: string
}

async function nginxVersion(): Promise<string> {
  try {
    const { stderr } = await promisify(execFile)('nginx', ['-v'])
    return stderr.trim().replace(/^nginx version: /, '')
  } catch {
    return 'not installed'
  }
}

function undiciVersion(): string {
  try {
    const require = createRequire(import.meta.url)
    const file = require.resolve('undici/package.json')
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return '?'
  }
}

/** Collects the machine's facts now. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpu = cpus()[0]?.model.trim() ?? '?'
  const cores = cpus().length
  const memGiB = Math.round((totalmem() / 2 ** 30) * 10) / 10
  const info = {
    cpu,
    cores,
    memGiB,
    kernel: `Linux ${release()}`,
    node: process.version,
    nginx: await nginxVersion(),
    undici: undiciVersion(),
    loadBefore: loadavg().map((x) => Math.round(x * 100) / 100),
  }
  return { ...info, summary: `${cpu}, ${cores} cores, ${memGiB} GiB, ${info.kernel}, Node ${info.node}, ${info.nginx}, undici ${info.undici}` }
}
