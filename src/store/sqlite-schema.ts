/**
 * Whether an existing SQLite file is the gateway's store: the file's header names the
 * application (application_id) and the store's schema version (user_version), and it holds the
 * store's one table and nothing else. A start would otherwise add its table to another
 * program's database (and switch that file to WAL, and purge rows of a table that happens to
 * share the name), or write into a layout a newer gateway made; `check` and a start refuse such
 * a file in these words before anything is written.
 */
import { describeSqliteError, openSqlite, SqliteDriverError } from './sqlite-driver.js'
import { APPLICATION_ID, SCHEMA_VERSION, STORE_COLUMNS, STORE_TABLE } from './sqlite-statements.js'

interface Layout {
  applicationId: number
  version: number
  tables: string[]
  columns: string[]
}

/** Why the SQLite database `file` is not a store this gateway may open, or undefined. */
export function sqliteSchemaProblem(file: string): string | undefined {
  let layout: Layout
  try {
    layout = readLayout(file)
  } catch (e) {
    // A driver that cannot load is the start's to report (an installation fault, no config key);
    // a file another process is creating this moment is the open's to wait for.
    if (e instanceof SqliteDriverError || /^SQLITE_BUSY/.test(String((e as { code?: unknown }).code))) return undefined
    return `it cannot be read as a SQLite database (${describeSqliteError(e)})`
  }
  return layoutProblem(layout)
}

function layoutProblem({ applicationId, version, tables, columns }: Layout): string | undefined {
  if (applicationId !== APPLICATION_ID && applicationId !== 0) return `it belongs to another program (application_id 0x${applicationId.toString(16)}), not to the gateway; give store.file a file of its own`
  if (applicationId === APPLICATION_ID && version > SCHEMA_VERSION) return `a newer gateway wrote it (store schema version ${version}; this gateway reads version ${SCHEMA_VERSION} and older): start that version, or give store.file another file`
  const others = tables.filter((t) => t !== STORE_TABLE)
  if (others.length > 0) return `it holds tables that are not the gateway's (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''}): it is another program's database; give store.file a file of its own`
  if (applicationId === 0 && version !== 0) return `its user_version is ${version}, which no gateway writes: it is another program's database; give store.file a file of its own`
  if (tables.length > 0 && columns.join(',') !== STORE_COLUMNS.join(',')) return `its ${STORE_TABLE} table has columns (${columns.join(', ')}), not the gateway's (${STORE_COLUMNS.join(', ')})`
  return undefined
}

function readLayout(file: string): Layout {
  const db = openSqlite(file, { readonly: true, fileMustExist: true, timeout: 2000 })
  try {
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[]
    const columns = (db.pragma(`table_info(${STORE_TABLE})`) as { name: string }[]).map((c) => c.name)
    return { applicationId: Number(db.pragma('application_id', { simple: true })), version: Number(db.pragma('user_version', { simple: true })), tables, columns }
  } finally {
    db.close()
  }
}
