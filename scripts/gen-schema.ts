/** Writes config/gateway.schema.json and docs/config-reference.md from the schema source. */
import { writeFileSync } from 'node:fs'
import { renderConfigReference, renderSchemaJson } from '../src/config/reference.js'

writeFileSync('config/gateway.schema.json', renderSchemaJson())
writeFileSync('docs/config-reference.md', renderConfigReference())
process.stdout.write('wrote config/gateway.schema.json and docs/config-reference.md\n')
