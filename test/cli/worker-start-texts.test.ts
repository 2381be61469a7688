/**
 * A `--workers` worker starts from the texts its primary sent: the config texts and the base64
 * bytes of every referenced file, twice (start and current; CRLs can be large). Once it has
 * built from them it keeps only the pinned snapshot of the config in force, not the texts:
 * before, startGateway's closures held its options, and with them the texts, for the process's life.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../src/cli/gateway-root.js'
import { loadConfigText, pinConfigFiles } from '../../src/config/index.js'
import type { ConfigTexts } from '../../src/ops/index.js'
import { eventually } from '../support/eventually.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const dir = mkdtempSync(join(tmpdir(), 'worker-start-texts-'))
afterAll(() => {
  pinConfigFiles(undefined)
  rmSync(dir, { recursive: true, force: true })
})

describe('a worker started from its primary\'s texts', () => {
  it('lets them go once it has built from them', async () => {
    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(configFile, 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ncallers: { required: false }\nendpoints: []\nprofiles: []\n')
    const loaded = loadConfigText(configFile)
    let texts: ConfigTexts | undefined = { start: loaded.text, current: loaded.text, startFiles: loaded.files, currentFiles: loaded.files }
    const held = new WeakRef(texts)
    const gw = await startGateway({ configFile, configTexts: texts, listen: { host: '127.0.0.1', port: 0 } })
    try {
      texts = undefined
      await eventually(() => {
        gc()
        return held.deref() === undefined
      }, 10_000, 'the texts to be collected')
      expect(held.deref()).toBeUndefined()
    } finally {
      await gw.close()
    }
  })
})
