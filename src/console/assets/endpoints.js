// Endpoints: one row per endpoint and tenant bundle; the name opens the presented chain and the last handshake.
import { get } from './api.js'
import { facts, h, page, rate, time } from './dom.js'

function details(r) {
  const hs = r.handshake
  return h('div', { class: 'details' },
    h('h2', {}, `Chain presented by ${r.endpoint}${r.tenant ? ` (tenant ${r.tenant})` : ''}`),
    h('table', {}, h('caption', {}, 'Certificates, leaf first'),
      h('thead', {}, h('tr', {}, ['Role', 'Subject', 'Issuer', 'Not before', 'Not after', 'SHA-256 fingerprint'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, r.certificates.map((c) => h('tr', {}, [c.role, c.subject, c.issuer, c.notBefore, c.notAfter, c.fingerprint256].map((v) => h('td', {}, v)))))),
    h('h2', {}, 'Last handshake'),
    facts([
      ['Negotiated', hs.last ? `${hs.last.protocol ?? 'unknown'}, ${hs.last.resumed ? 'resumed' : 'full handshake'}` : 'no connection yet'],
      ['At', time(hs.last?.at)],
      ['Last failure', hs.lastFailure ? `${hs.lastFailure.reason} at ${time(hs.lastFailure.at)}` : 'none'],
    ]))
}

function errorsByReason(r) {
  const reasons = Object.entries(r.rates?.failuresByReason ?? {}).filter(([, n]) => n > 0)
  const parts = [`${rate(r.rates?.errors)} errors`, ...reasons.map(([k, n]) => `${k} ${rate(n)}`)]
  return parts.join('; ')
}

export async function showEndpoints() {
  const { rows } = await get('endpoints')
  const head = ['Endpoint', 'URL', 'Way in', 'Client subject', 'Issuer', 'Chain', 'Not after', 'Days left', 'Pins', 'State', 'Requests', 'Errors', 'Last handshake failure']
  const body = h('tbody', {})
  rows.forEach((r, i) => {
    const id = `endpoint-details-${i}`
    const panel = h('tr', { id, class: 'detail-row', hidden: true }, h('td', { colspan: head.length }, details(r)))
    const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': id }, `${r.endpoint}${r.tenant ? ` · ${r.tenant}` : ''}`)
    toggle.addEventListener('click', () => {
      panel.hidden = !panel.hidden
      toggle.setAttribute('aria-expanded', String(!panel.hidden))
    })
    const state = r.degraded.length ? h('span', { class: 'error' }, `degraded: ${r.degraded.join(', ')}`) : 'serving'
    const days = h('span', { class: r.daysLeft < 0 ? 'error' : r.expiringSoon ? 'warn' : '' }, r.daysLeftText)
    const failure = r.handshake.lastFailure ? `${r.handshake.lastFailure.reason} at ${time(r.handshake.lastFailure.at)}` : 'none'
    body.append(h('tr', { class: 'endpoint-row', 'data-endpoint': r.endpoint }, [h('th', { scope: 'row' }, toggle), r.url, r.wayIn, r.subject, r.issuer, r.chain, r.notAfter, days, String(r.pins), state, rate(r.rates?.requests), errorsByReason(r), failure].map((c, j) => (j === 0 ? c : h('td', {}, c)))), panel)
  })
  page('Endpoints', h('div', { class: 'scroll' }, h('table', { id: 'endpoints' }, h('caption', {}, 'Endpoints and their client bundles (rates over the last minutes)'),
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))), body)))
}
