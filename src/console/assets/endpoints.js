// Endpoints: one row per endpoint and tenant bundle; the name opens the presented chain and the last handshake;
// Test connection runs the five steps of the mutual-TLS exchange over a new connection and shows each.
import { get, post } from './api.js'
import { askTenant, facts, h, page, rate, time } from './dom.js'

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

function stepsList(report) {
  return h('ol', { class: 'steps' }, report.steps.map((s) =>
    h('li', { class: `step ${s.result === 'ok' ? 'ok' : s.result === 'failed' ? 'error' : 'muted'}` }, `${s.step}: ${s.result}${s.detail ? ` (${s.detail})` : ''}`)))
}

// The row's Test connection button, its live status and the panel the steps go to.
function connectionTest(r, i, panel) {
  const label = `${r.endpoint}${r.tenant ? ` tenant ${r.tenant}` : ''}`
  const status = h('span', { class: 'test-result', id: `connection-result-${i}`, role: 'status', 'aria-live': 'polite' })
  const button = h('button', { type: 'button', class: 'test', 'aria-describedby': status.id, 'aria-label': `Test connection of ${label}` }, 'Test connection')
  button.addEventListener('click', async () => {
    let tenant = r.tenant
    if (r.asksTenant) {
      tenant = await askTenant(`Test the connection of ${r.endpoint}: which tenant?`)
      if (tenant === undefined) return button.focus()
    }
    button.disabled = true
    status.textContent = 'Testing…'
    status.className = 'test-result'
    panel.replaceChildren()
    panel.parentElement.hidden = false
    try {
      const report = await post('endpoints/test', { endpoint: r.endpoint, ...(tenant ? { tenant } : {}) })
      status.textContent = report.ok ? 'Connection Test Passed' : 'Connection Test Failed'
      status.className = `test-result ${report.ok ? 'ok' : 'error'}`
      panel.replaceChildren(h('section', { class: 'connection-test', 'aria-label': `Connection test of ${label}` },
        h('p', {}, `GET ${report.url} in ${report.ms} ms`), stepsList(report), report.error ? h('p', { class: 'error' }, report.error.msg) : null))
    } catch (err) {
      status.textContent = `Connection Test Failed: ${err.message}`
      status.className = 'test-result error'
    } finally {
      button.disabled = false
      button.focus()
    }
  })
  return h('div', { class: 'actions' }, button, status)
}

export async function showEndpoints() {
  const { rows } = await get('endpoints')
  const head = ['Endpoint', 'URL', 'Way in', 'Client subject', 'Issuer', 'Chain', 'Not after', 'Days left', 'Pins', 'State', 'Requests', 'Errors', 'Last handshake failure', 'Connection']
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
    const tested = h('td', { colspan: head.length })
    const testRow = h('tr', { class: 'connection-test-row', hidden: true }, tested)
    const test = connectionTest(r, i, tested)
    body.append(h('tr', { class: 'endpoint-row', 'data-endpoint': r.endpoint, 'data-tenant': r.tenant }, [h('th', { scope: 'row' }, toggle), r.url, r.wayIn, r.subject, r.issuer, r.chain, r.notAfter, days, String(r.pins), state, rate(r.rates?.requests), errorsByReason(r), failure, test].map((c, j) => (j === 0 ? c : h('td', {}, c)))), panel, testRow)
  })
  page('Endpoints', h('div', { class: 'scroll' }, h('table', { id: 'endpoints' }, h('caption', {}, 'Endpoints and their client bundles (rates over the last minutes)'),
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))), body)))
}
