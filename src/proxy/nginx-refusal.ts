/**
 * nginx with `ssl_verify_client on` completes the TLS handshake whatever client certificate it
 * gets (or none) and refuses over HTTP instead: a 400 with its built-in page for its internal
 * 495 ("The SSL certificate error") or 496 ("No required SSL certificate was sent"). Relayed,
 * that read as the caller's bad request: no handshake-failure count, no alert, no reason in the
 * access log. Only nginx's exact page is taken for it (an `error_page 495 496` of the backend's
 * own is not); every other 400 reaches the caller as it came.
 */
import { GatewayError } from '../errors.js'
import type { OutboundHeaders } from './pipeline.js'

/** nginx's page is about 250 bytes (plus about 400 of padding for MSIE and Chrome user agents): a longer announced length is never it, and is not held. */
const PAGE_MAX = 2048

/**
 * ngx_http_special_response.c: the 495/496 page (`<body bgcolor="white">` in older versions),
 * the tail by server_tokens (off, on, build; OpenResty names itself), and the padding nginx adds
 * for a caller whose User-Agent names MSIE or Chrome (older and newer wording).
 */
const PAGE = new RegExp('^<html>\r\n<head><title>400 (The SSL certificate error|No required SSL certificate was sent)</title></head>\r\n' +
  '<body(?: bgcolor="white")?>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>\\1</center>\r\n' +
  '<hr><center>(?:nginx|openresty)(?:/[0-9][0-9.]*(?: \\([^()<>\r\n]*\\))?)?</center>\r\n</body>\r\n</html>\r\n' +
  '(?:(?:<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n){6}|(?:<!-- The padding to disable MSIE\'s friendly error page -->\r\n){6})?$')

/** Whether a 400's head may be nginx's page: text/html, no content coding, a small announced length. Anything else is relayed unread. */
export function mayBeNginxRefusal(headers: OutboundHeaders): boolean {
  const type = headers['content-type']
  const length = headers['content-length']
  return typeof type === 'string' && /^text\/html\s*(?:;|$)/i.test(type) && typeof length === 'string' && /^\d{1,4}$/.test(length) &&
    Number(length) <= PAGE_MAX && headers['content-encoding'] === undefined && headers['transfer-encoding'] === undefined
}

/** nginx's sentence when `body` is exactly its refusal page; undefined otherwise. */
export function nginxRefusalText(body: Buffer): string | undefined {
  return PAGE.exec(body.toString('latin1'))?.[1]
}

/** The 502 for nginx's refusal: the same reason as a TLS alert refusing the certificate. */
export function nginxRefusal(endpoint: string, text: string): GatewayError {
  return new GatewayError('upstream_client_cert_rejected', `endpoint "${endpoint}": client certificate rejected by the server (nginx: ${text})`)
}
