// Users: who holds a per-user token (never the token), in which user space, Revoke, and a
// one-time authorize link to hand over. A user id names a user of one app's user space only.
import { get, post } from './api.js'
import { h, page, time } from './dom.js'

const NO_APP = '(callers without an app)'
const EARLIER = '(earlier version)'

// A token's space as the table shows it: earlier versions' tokens had none (never used, revocable).
const spaceLabel = (t) => (t.space === undefined ? EARLIER : t.space === '' ? NO_APP : t.space)

function appChoice(apps) {
  const label = (a) => (a.userSpace === a.clientId ? a.clientId : `${a.clientId} (user space ${a.userSpace})`)
  const options = apps.map((a) => h('option', { value: a.clientId }, label(a)))
  return h('select', { id: 'link-app', name: 'app' }, [...options, h('option', { value: '' }, NO_APP)])
}

function linkForm(profiles, apps, status) {
  const app = appChoice(apps)
  const profile = h('select', { id: 'link-profile', name: 'profile' }, profiles.map((p) => h('option', { value: p.name }, p.name)))
  const tenant = h('input', { id: 'link-tenant', name: 'tenant', autocomplete: 'off' })
  const user = h('input', { id: 'link-user', name: 'user', required: true, autocomplete: 'off' })
  const out = h('input', { id: 'link-url', readonly: true, 'aria-label': 'One-time authorize link' })
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy link')
  const result = h('div', { class: 'link-result', hidden: true }, out, copy)
  copy.addEventListener('click', async () => {
    out.select()
    try {
      await navigator.clipboard.writeText(out.value)
      status.textContent = 'Link copied.'
    } catch {
      status.textContent = 'Select the link and copy it (the clipboard is not available here).'
    }
  })
  const form = h('form', { id: 'link-form', class: 'card' },
    h('h2', {}, 'Create authorize link'),
    h('label', { for: 'link-app' }, 'Whose user (app)'), app,
    h('label', { for: 'link-profile' }, 'Profile'), profile,
    h('label', { for: 'link-tenant' }, 'Tenant (profiles with tenancy)'), tenant,
    h('label', { for: 'link-user' }, 'User'), user,
    h('button', { type: 'submit' }, 'Create link'), result)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      const r = await post('users/link', { app: app.value, profile: profile.value, user: user.value, ...(tenant.value ? { tenant: tenant.value } : {}) })
      out.value = r.url
      result.hidden = false
      status.textContent = `One-time link created for ${user.value}: it works once, for 10 minutes.`
      out.focus()
    } catch (err) {
      status.textContent = err.message
    }
  })
  return form
}

export async function showUsers() {
  const data = await get('users')
  const status = h('p', { id: 'users-status', role: 'status', 'aria-live': 'polite' })
  if (!data.store) return void page('Users', h('p', {}, 'No per-user profile stores tokens (token.mode: per_user with store.sealKeys).'))
  const rows = data.holders.map((t) => {
    // t.shown, never t.user, wherever the id is read: a bidi override or invisible mark in an id
    // is written as its code point by the gateway (the link page's rule), so no id renders as another.
    const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${t.shown}'s token for ${t.profile}${t.tenant ? ` tenant ${t.tenant}` : ''}, user space ${spaceLabel(t)}` }, 'Revoke')
    const row = h('tr', { 'data-user': t.user, 'data-space': t.space ?? '' }, h('th', { scope: 'row' }, t.anonymous ? `${t.shown} (anonymous)` : t.shown), h('td', {}, spaceLabel(t)), h('td', {}, t.profile), h('td', {}, t.tenant ?? '—'), h('td', {}, time(t.obtainedAt)), h('td', {}, revoke))
    revoke.addEventListener('click', async () => {
      try {
        const space = t.space === undefined ? { earlierVersion: true } : { space: t.space }
        await post('users/revoke', { ...space, profile: t.profile, user: t.user, ...(t.tenant ? { tenant: t.tenant } : {}), ...(t.anonymous ? { anonymous: true } : {}) })
        row.remove()
        status.textContent = `Revoked ${t.shown}'s token for ${t.profile}.`
      } catch (err) {
        status.textContent = err.message
      }
    })
    return row
  })
  const table = rows.length
    ? h('table', { id: 'holders' }, h('caption', {}, 'Users holding a token'),
        h('thead', {}, h('tr', {}, ['User', 'User space', 'Profile', 'Tenant', 'Obtained', 'Action'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))
    : h('p', { id: 'no-holders' }, 'No user holds a token yet.')
  page('Users', status, table, linkForm(data.profiles, data.apps, status))
}
