/**
 * `npm run build`'s second step: bundles the gateway's own modules (tsc's output under dist/src)
 * into dist/src/main.js, the entry every command line and the image run, and the chunks it loads
 * in dist/src/chunks/. A start then reads a few dozen files instead of some 300 of our own, each
 * resolved, read and compiled apart: about 30 % less CPU per process start (docs/performance.md).
 *
 * - Packages stay external: Node loads each from node_modules as before (native modules, undici's
 *   files by path, pino's transports need their own files).
 * - Each dynamic `import()` stays a boundary (its own chunk), so a `--workers` primary still loads
 *   no request path and the console, the dance and jose still load only when a config uses them.
 * - tsc's dist/src/main.js is the input and is overwritten: running tsc alone leaves the unbundled
 *   program there again (the same code, slower to start), never a stale bundle.
 * - dist/bundle-meta.json (esbuild's metafile) says which of our modules each output holds: the
 *   tests that check what a process loads read it (the image leaves it out).
 */
import { rmSync, writeFileSync } from 'node:fs'
import { build } from 'esbuild'

const ENTRY = 'dist/src/main.js'
const CHUNKS = 'dist/src/chunks'

rmSync(CHUNKS, { recursive: true, force: true })
const result = await build({
  entryPoints: [ENTRY],
  outdir: 'dist/src',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  metafile: true,
  // Maps back to tsc's output (and through its maps to src/ where tsc wrote them): the bench's
  // stage tables attribute profile frames to modules by them (bench/source-origins.ts).
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
})
writeFileSync('dist/bundle-meta.json', `${JSON.stringify(result.metafile)}\n`)
