/**
 * The spellings a secret value takes once a URL parser or an encoder has written it: a check that
 * quotes a parsed URL or path (`pathPrefix`'s "write it as …", an endpoint's URL in a connection
 * test) shows the value with tabs and line breaks removed (the URL standard strips them),
 * percent-encoded, cut at a `?` or `#`, lower-cased in a host. Concealing or redacting only the
 * value as written let those spellings through (a `${file:}` private key quoted whole by the
 * `pathPrefix` check, with `%20` for its spaces). Letter case is the matcher's (case-insensitive).
 */

/** `value` as written and as a URL parser or encoder may write it (distinct spellings). */
export function writtenForms(value: string): string[] {
  const forms = new Set([value])
  const stripped = value.replace(/[\t\n\r]/g, '')
  for (const v of [value, stripped]) {
    forms.add(v)
    for (const encode of [encodeURI, encodeURIComponent, pathForm, formForm]) {
      try {
        forms.add(encode(v))
      } catch {
        // A lone surrogate: no encoder writes it, so there is no such spelling to hide.
      }
    }
  }
  return [...forms]
}

/** How a URL writes `v` as the rest of its path (cut at a `?` or `#`, `\` as `/`, dot segments resolved). */
function pathForm(v: string): string {
  return new URL(`http://gateway.invalid/${v}`).pathname.slice(1)
}

/** How a form (application/x-www-form-urlencoded) writes `v`. */
function formForm(v: string): string {
  return new URLSearchParams({ v }).toString().slice(2)
}
