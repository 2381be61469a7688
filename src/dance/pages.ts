/**
 * The few HTML pages a user's browser sees during the dance: the success or failure page
 * after the provider's callback, and the form that collects user fields (a PIN). Plain,
 * self-contained and never cached; every dynamic value is escaped.
 */
import type { ServerResponse } from 'node:http'
import { GatewayError, statusOf, type Reason } from '../errors.js'
import { asGatewayError, PageError } from '../proxy/write-error.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

/**
 * A caller-given id as the page shows it: every control, format (bidi overrides and isolates,
 * zero-width characters, the BOM), line/paragraph separator and default-ignorable character
 * (drawn as nothing whatever its category: the combining grapheme joiner, variation selectors,
 * unassigned ones) written as its code point, `\u{202E}`, so an id cannot render as another
 * one (`\u{202E}ecila` or `alice\u{34F}` as "alice"). The result still needs escapeHtml.
 */
export function visibleText(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16).toUpperCase()}}`)
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.ok{color:#176b2c}.fail{color:#a31b1b}label{display:block;margin:.8rem 0 .2rem}
b{unicode-bidi:isolate}input{font-size:1rem;padding:.3rem;width:100%;box-sizing:border-box}button{margin-top:1rem;font-size:1rem;padding:.4rem 1.2rem}</style>
</head><body><main>
${body}
</main></body></html>
`
}

/**
 * Every dance response's headers but its type and length, set here only: no caching, no referrer
 * to another origin (the URL carries one-time ids), no framing by any page (the link page's button starts a dance:
 * clickjacking), no <base> to re-point its form, no sniffing, no opener or embedder across origins.
 * No form-action: Chromium applies it to every redirect after the form's POST, and the provider's
 * authorization URL may send the browser on to a login page on an origin no config names.
 */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  // Nothing to another origin (the URL carries one-time ids); to this one, so its form's POST names its Origin (same-site-post.ts).
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

/** Sends an HTML page with PAGE_HEADERS. */
export function sendPage(res: ServerResponse, status: number, html: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, Object.assign({}, headers, PAGE_HEADERS, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }))
  res.end(html)
}

/** Sends a browser on to `location` (the link page, the provider's), with PAGE_HEADERS and no body. */
export function sendRedirect(res: ServerResponse, status: 302 | 303, location: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, Object.assign({}, headers, PAGE_HEADERS, { location, 'content-length': 0 }))
  res.end()
}

/** What a failure page says: what went wrong (no secret, no store address), and what the user can do. */
export interface PageText {
  readonly why: string
  readonly next: string
}

const NEW_LINK = 'Nothing was stored. Ask for a new authorization link to try again.'

/**
 * A store failure where nothing of the dance was used up (a read failed, or a take the store
 * refused): the link or the approval still works once the store answers. The store's address,
 * file and error stay in the access line.
 */
const STORE_DOWN: PageText = {
  why: 'The gateway\'s storage is not answering right now, so this step could not be done.',
  next: 'Nothing was used up: try again shortly (reload this page, or open the authorization link again).',
}

/** A bug on the way (a 500): its stack is in the access line, nothing of it on the page. */
const INTERNAL: PageText = {
  why: 'The gateway failed on its side (an internal error).',
  next: 'Try again shortly; if it fails again, ask for a new authorization link.',
}

/** `err` as the failure page saying `text`, its status shown; the access line keeps its reason, message and cause. */
export function pageOf(err: GatewayError, text: PageText, headers: Readonly<Record<string, string>> = {}): PageError {
  return new PageError(new GatewayError(err.reason, err.message, { cause: err.cause, headers: Object.assign({}, err.headers, headers), callerMessage: text.why }), failurePage(text.why, statusOf(err.reason, 'api'), text.next), PAGE_HEADERS)
}

/**
 * `err` answered to a browser as the failure page (same status, its message and code on the
 * page) instead of the JSON envelope; the access line keeps its reason and message. A store
 * failure says to try again (nothing was used up) rather than its operator's message.
 */
export function asFailurePage(err: GatewayError): GatewayError {
  if (err instanceof PageError) return err
  if (err.reason === 'store_unavailable') return pageOf(err, STORE_DOWN)
  if (err.reason === 'internal') return pageOf(err, INTERNAL)
  return pageOf(err, { why: err.callerMessage, next: NEW_LINK })
}

/** Anything thrown on a browser's way, as the failure page: an unknown error is the 500 page (its stack logged, as for any 500). */
const pageFor = (err: unknown): GatewayError => asFailurePage(asGatewayError(err))

/** `read`'s result; its refusal is answered as the failure page, as every other failure a browser meets in the dance. */
export function browserFacing<T>(read: () => T): T {
  try {
    return read()
  } catch (err) {
    throw pageFor(err)
  }
}

/** browserFacing for a handler: whatever fails on the way (a form body it cannot read, the store, a bug) is answered as a page. */
export async function pagesOnly(handle: () => Promise<void>): Promise<void> {
  try {
    await handle()
  } catch (err) {
    throw pageFor(err)
  }
}

/**
 * A refusal of the dance answered as the failure page: `reason` (its status) in the access line,
 * so a client's refusals are logged and capped like any 4xx (logging.callerFaults); `why`, which
 * must hold no secret, is both the page's text and the line's error.
 */
export function refusalPage(reason: Reason, why: string, headers: Record<string, string> = {}): GatewayError {
  return asFailurePage(new GatewayError(reason, why, { headers }))
}

/** `err` said under `reason` (its own reason leading the line's error when another replaces it), as the failure page saying `why`. */
export function restatedPage(err: GatewayError, reason: Reason, why: string, headers: Record<string, string> = {}): GatewayError {
  return asFailurePage(new GatewayError(reason, reason === err.reason ? err.message : `${err.reason}: ${err.message}`, { headers, callerMessage: why }))
}

/** The page after a successful callback: the token is stored. */
export function successPage(provider: string): string {
  return layout('Authorization complete', `<h1 class="ok" id="result" data-result="success">Authorization complete</h1>
<p>Access to <b>${escapeHtml(provider)}</b> is authorized. You can close this window and return to the conversation.</p>`)
}

/** The page when the dance did not end with a stored token; `why` must hold no secret; `code`, an error's status, is shown; `next`: what the user can do. */
export function failurePage(why: string, code?: number, next = NEW_LINK): string {
  const shown = code === undefined ? '' : `\n<p id="code">Error code: <code>${code}</code></p>`
  return layout('Authorization failed', `<h1 class="fail" id="result" data-result="failure">Authorization failed</h1>
<p>${escapeHtml(why)}</p>${shown}
<p id="next">${escapeHtml(next)}</p>`)
}

/** Whom an authorization is for, as the link page names them. */
export interface LinkHolder {
  readonly user: string
  readonly tenant?: string
  readonly anonymous: boolean
}

/**
 * The page an authorize link opens: whom it is for (so a forwarded link is recognisable), and a
 * button (and the user's fields, e.g. a PIN) that POSTs back with the link's CSRF token.
 * Opening the link consumes nothing, so a chat client's link preview cannot use it up; only
 * the user's click starts the dance, in the browser that must then approve it.
 */
export function linkPage(provider: string, action: string, csrf: string, names: readonly string[], holder: LinkHolder): string {
  const inputs = names
    .map((n) => `<label for="f-${escapeHtml(n)}">${escapeHtml(n)}</label><input id="f-${escapeHtml(n)}" name="field.${escapeHtml(n)}" type="password" autocomplete="off" required>`)
    .join('\n')
  const who = `${holder.anonymous ? 'guest session' : 'user'} <b id="holder-user">${escapeHtml(visibleText(holder.user))}</b>${holder.tenant !== undefined ? ` of tenant <b id="holder-tenant">${escapeHtml(visibleText(holder.tenant))}</b>` : ''}`
  return layout('Authorize access', `<h1>Authorize access to ${escapeHtml(provider)}</h1>
<p id="holder">This authorization is for ${who}. If that is not you, close this page: whoever approves it gives that user access.</p>
<p>Continue to sign in at ${escapeHtml(provider)} and allow access, in this browser.</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
${inputs}
<button type="submit" id="continue">Continue to ${escapeHtml(provider)}</button>
</form>`)
}
