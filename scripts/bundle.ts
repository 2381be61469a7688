/**
 * `npm run build`'s second step: bundles the gateway's own modules (tsc's output under dist/src)
 * into dist/src/main.js, the entry every command line and the image run, and the chunks it loads
 * in dist/src/chunks/. A start then reads a few dozen files instead of some 300 of our own and
 * ~150 of the packages every start loads, each resolved, read and compiled apart: about 40 % less
 * CPU per process start (docs/performance.md).
 *
 * - Bundled packages: only those every start loads (BUNDLED_PACKAGES, with what they require).
 *   Every other package stays in node_modules, loaded by Node as before (native modules, undici's
 *   files by path, packages loaded when a config needs them).
 * - Each dynamic `import()` stays a boundary (its own chunk), so a `--workers` primary still loads
 *   no request path and the console, the dance and jose still load only when a config uses them.
 * - tsc's dist/src/main.js is the input and is overwritten: running tsc alone leaves the unbundled
 *   program there again (the same code, slower to start), never a stale bundle.
 * - dist/bundle-meta.json (esbuild's metafile) says which of our modules each output holds: the
 *   tests that check what a process loads read it (the image leaves it out).
 */
import { rmSync, writeFileSync } from 'node:fs'
import { build, type Plugin } from 'esbuild'

const ENTRY = 'dist/src/main.js'
const CHUNKS = 'dist/src/chunks'

/**
 * The packages every start loads, bundled with everything they require: yaml (the config),
 * commander (the command line), prom-client (metrics), pino (logs), and @peculiar/asn1-schema with
 * @peculiar/asn1-x509 (a client bundle's key usage and basicConstraints, read at every start with
 * an endpoint: tls/x509-extensions.ts). Any other package stays in node_modules, loaded by Node as
 * before (undici, the native better-sqlite3, ioredis, jose, the OpenTelemetry SDK, …).
 */
const BUNDLED_PACKAGES = new Set(['yaml', 'commander', 'prom-client', 'pino', '@peculiar/asn1-schema', '@peculiar/asn1-x509'])
const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')
const startPackages: Plugin = {
  name: 'start-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => {
      if (a.path.startsWith('node:')) return { external: true }
      // Inside a bundled package: bundle what it requires too (it may resolve only from there).
      if (a.importer.includes('/node_modules/')) return undefined
      return BUNDLED_PACKAGES.has(packageOf(a.path)) ? undefined : { external: true }
    })
  },
}

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
  // A package's ES module build where it has one: of the asn1 packages (and asn1js under them) a
  // third less code than their CommonJS builds. The other bundled packages declare `exports`, which
  // take precedence, or have no `module` field: the same files as with esbuild's default.
  mainFields: ['module', 'main'],
  plugins: [startPackages],
  metafile: true,
  // Maps back to tsc's output (and through its maps to src/ where tsc wrote them): the bench's
  // stage tables attribute profile frames to modules by them (bench/source-origins.ts).
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  // The bundled CommonJS packages call require(): an ES module has none of its own.
  banner: { js: "import { createRequire as gatewayCreateRequire } from 'node:module'; const require = gatewayCreateRequire(import.meta.url);" },
  logLevel: 'warning',
})
writeFileSync('dist/bundle-meta.json', `${JSON.stringify(result.metafile)}\n`)
