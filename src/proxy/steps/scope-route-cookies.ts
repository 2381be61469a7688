/**
 * respond: in route mode, each upstream Set-Cookie is kept under `/proxy/<endpoint>[@tenant]/`
 * with no Domain (route-cookies.ts says how), so a cookie jar never sends one endpoint's
 * cookies to another's backend. Forward-proxy and CONNECT responses pass untouched.
 */
import type { ResponseStep } from '../pipeline.js'
import { routeCookieScope, scopeSetCookies } from '../route-cookies.js'

export const scopeRouteCookies: ResponseStep = {
  name: 'scope_route_cookies',
  run(ctx, res) {
    if (ctx.mode !== 'route' || ctx.route === undefined || res.headers['set-cookie'] === undefined) return
    scopeSetCookies(res.headers, routeCookieScope(ctx))
  },
}
