/**
 * The part names a `multipart/form-data` body may carry, read without trusting its structure.
 * PHP registers form parts in `$_POST` and `$_REQUEST` (over the query: request_order "GP", or
 * variables_order "EGPCS" without a php.ini) and Laravel's `input()` reads them over the query,
 * so beside a query field a caller's part of that name would win there. The gateway does not
 * parse the body as a backend would (boundaries, folded header lines, quoting and RFC 2231
 * `name*=` differ between parsers): it reads every `name=` / `name*=` parameter anywhere in the
 * bytes, in every way a lenient parser might, and a match refuses the request. A file's content
 * that happens to hold `; name=acct` is refused too: the cost of not guessing a backend's parser.
 */

// A `name` parameter: after a delimiter a header parser splits on (";", ":", white space, a line
// break of a folded header), any case, optional RFC 2231 "*", spaces around "=".
const NAME_PARAMETER = /(?:^|[;:\s])name[ \t]*(\*?)[ \t]*=[ \t\v\f\r]*("(?:[^"\\\r\n]|\\.)*"?|'[^'\r\n]*'?|[^;\s]*)/gi

/** The readings of one parameter value: quoted or not, backslash escapes kept or undone, RFC 2231 `charset'lang'text` cut. */
function readingsOf(value: string, extended: boolean): string[] {
  const quote = value[0]
  const inner = quote === '"' || quote === "'" ? value.slice(1, value.endsWith(quote) && value.length > 1 ? -1 : undefined) : value
  const out = [inner, inner.replace(/\\(.)/g, '$1')]
  if (extended) {
    const tick = inner.split("'")
    if (tick.length >= 3) out.push(tick.slice(2).join("'"))
  }
  return out
}

/** C's isspace() in the C locale: what PHP's multipart reader treats as white space. */
const C_SPACE = /^[ \t\n\v\f\r]/

/**
 * PHP reads a multipart body through a buffer of this many bytes (main/rfc1867.c FILLUNIT; more
 * only for a boundary near as long, which refuseShadowingParts does not let through): a header
 * line that does not fit is cut there, and what follows is read as another line.
 */
export const PHP_LINE_BUFFER = 5 * 1024

/**
 * `text` with its lines joined as PHP's multipart header reader joins them (main/rfc1867.c): lines
 * end at LF (one CR before it dropped); a line of PHP_LINE_BUFFER bytes or more is cut into pieces
 * of that size, each read as a line of its own (`…; name=acct` + `Z: z` is a part acct and a
 * header Z); each line is cut at its first NUL (C strings; a line that starts with one is empty);
 * and a non-empty line that starts with white space, or holds no ":", continues a non-empty one
 * before it with nothing between (`na` + `me=acct` is `name=acct`; a quoted name may span lines).
 * An empty line ends a header block.
 */
function phpJoinedLines(text: string): string {
  const out: string[] = []
  let previousEmpty = true
  const read = (line: string): void => {
    const nul = line.indexOf('\0')
    const kept = nul === -1 ? line : line.slice(0, nul)
    const continues = !previousEmpty && kept !== '' && (C_SPACE.test(kept) || !kept.includes(':'))
    if (continues) out[out.length - 1] += kept
    else out.push(kept)
    previousEmpty = kept === ''
  }
  for (const raw of text.split('\n')) {
    let rest = raw
    for (; rest.length >= PHP_LINE_BUFFER; rest = rest.slice(PHP_LINE_BUFFER)) read(rest.slice(0, PHP_LINE_BUFFER))
    read(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
  }
  return out.join('\n')
}

/**
 * Every name a lenient multipart parser may read from `body` (the bytes as Latin-1 and as UTF-8,
 * so an encoded non-ASCII name is matched however it is decoded). Names may still be
 * percent-encoded: callers judge them with parameterMatcher, which decodes.
 */
export function multipartNames(body: Buffer): Set<string> {
  const names = new Set<string>()
  const latin1 = body.toString('latin1')
  const seen = new Set<string>()
  // The bytes as they are, and with lines joined as PHP joins header lines; each distinct
  // parameter read once (a body of a million `;name=x` is a million matches, one name).
  for (const text of [latin1, phpJoinedLines(latin1)]) {
    for (const m of text.matchAll(NAME_PARAMETER)) {
      const raw = `${m[1] as string}${m[2] as string}`
      if (seen.has(raw)) continue
      seen.add(raw)
      for (const reading of readingsOf(m[2] as string, m[1] === '*')) {
        names.add(reading)
        // The same bytes read as UTF-8 (a part named in UTF-8 with a non-ASCII letter).
        if (/[\x80-\xff]/.test(reading)) names.add(Buffer.from(reading, 'latin1').toString('utf8'))
      }
    }
  }
  return names
}

/** True for a Content-Type that names a multipart media type anywhere (PHP compares its start, ignoring case). */
export function isMultipart(contentType: string | undefined): boolean {
  return contentType !== undefined && /multipart\//i.test(contentType)
}
