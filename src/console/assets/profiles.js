// Profiles: each OAuth 1.0a profile (secrets masked) with Test; tenancy asks for the tenant first;
// a failure opens "Auth Test Failed" with Headers and Response tabs.
import { post, get } from './api.js'
import { askTenant, facts, h, page } from './dom.js'

function tabs(id, entries) {
  const list = h('div', { role: 'tablist', 'aria-label': 'Provider answer' })
  const panels = []
  const buttons = entries.map(([name, content], i) => {
    const panel = h('div', { role: 'tabpanel', id: `${id}-panel-${i}`, 'aria-labelledby': `${id}-tab-${i}`, tabindex: '0', hidden: i !== 0 }, content)
    panels.push(panel)
    return h('button', { type: 'button', role: 'tab', id: `${id}-tab-${i}`, 'aria-controls': panel.id, 'aria-selected': String(i === 0), tabindex: i === 0 ? '0' : '-1' }, name)
  })
  const select = (i) => {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j))
      b.tabIndex = i === j ? 0 : -1
      panels[j].hidden = i !== j
    })
    buttons[i].focus()
  }
  buttons.forEach((b, i) => {
    b.addEventListener('click', () => select(i))
    b.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault()
        select((i + (e.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length)
      }
    })
  })
  list.append(...buttons)
  return h('div', { class: 'tabs' }, list, ...panels)
}

function failurePanel(name, r) {
  const resp = r.response
  const headers = resp
    ? h('table', {}, h('caption', {}, `${resp.method} ${resp.url} → HTTP ${resp.status}`),
        h('tbody', {}, Object.entries(resp.headers).map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))))
    : h('p', {}, 'No response: the request did not reach the provider.')
  const body = resp ? h('div', {}, h('p', { class: 'status-line' }, `HTTP ${resp.status}`), h('pre', { class: 'response-body' }, resp.body || '(empty)')) : h('p', {}, '(none)')
  return h('section', { class: 'failure', 'aria-labelledby': `fail-${name}` },
    h('h3', { id: `fail-${name}` }, 'Auth Test Failed'), h('p', {}, r.message), tabs(`answer-${name}`, [['Headers', headers], ['Response', body]]))
}

function profileCard(p) {
  const result = h('span', { class: 'test-result', id: `test-result-${p.name}`, role: 'status', 'aria-live': 'polite' })
  const panel = h('div', { class: 'test-panel' })
  const button = h('button', { type: 'button', class: 'test', 'aria-describedby': result.id }, 'Test')
  button.setAttribute('aria-label', `Test profile ${p.name}`)
  button.addEventListener('click', async () => {
    let tenant
    if (p.tenancy) {
      tenant = await askTenant(`Test ${p.name}: which tenant?`)
      if (tenant === undefined) return button.focus()
    }
    button.disabled = true
    result.textContent = 'Testing…'
    result.className = 'test-result'
    panel.replaceChildren()
    try {
      const r = await post('profiles/test', { profile: p.name, ...(tenant ? { tenant } : {}) })
      result.textContent = r.ok ? 'Auth Test Succeeded' : 'Auth Test Failed'
      result.className = `test-result ${r.ok ? 'ok' : 'error'}`
      if (r.ok) panel.replaceChildren(h('p', {}, r.message))
      else panel.replaceChildren(failurePanel(p.name, r))
    } catch (err) {
      result.textContent = `Auth Test Failed: ${err.message}`
      result.className = 'test-result error'
    } finally {
      button.disabled = false
      button.focus()
    }
  })
  const fields = [...p.fields.map((f) => `${f.type} ${f.key} = ${f.value}`), ...p.additionalFields.map((f) => `${f.key} = ${f.value}`)]
  return h('section', { class: 'card profile', 'data-profile': p.name, 'aria-labelledby': `profile-${p.name}` },
    h('h2', { id: `profile-${p.name}` }, `${p.name}${p.provider ? ` · ${p.provider}` : ''}`),
    facts([
      ['Consumer key', p.consumerKey], ['Consumer secret', p.consumerSecret], ['Signature method', p.signatureMethod], ['Placement', p.placement],
      ['OAuth version', p.legacyOAuth10 ? '1.0 (legacyOAuth10: no callback confirmation or verifier; the dance is open to session fixation)' : '1.0a'],
      ['Tenancy', p.tenancy ? 'yes' : 'no'], ['Tokens', p.tokenMode], ['Request token URL', p.requestTokenUrl ?? '—'], ['Authorize URL', p.authorizeUrl ?? '—'],
      ['Fields', fields.length ? fields.join('; ') : 'none'], ['User fields', p.userFields.length ? p.userFields.join(', ') : 'none'],
    ]),
    h('div', { class: 'actions' }, button, result), panel)
}

export async function showProfiles() {
  const { profiles } = await get('profiles')
  page('Profiles', profiles.length ? profiles.map(profileCard) : h('p', {}, 'No OAuth 1.0a profiles in the config.'))
}
