// The console shell: sign-in, navigation between pages (#overview, #endpoints, …), sign-out.
import { ApiError, get, post, setCsrf } from './api.js'
import { h, page } from './dom.js'
import { showOverview } from './overview.js'
import { showEndpoints } from './endpoints.js'
import { showProfiles } from './profiles.js'
import { showUsers } from './users.js'
import { showDraft } from './draft.js'

const PAGES = { overview: showOverview, endpoints: showEndpoints, profiles: showProfiles, users: showUsers, draft: showDraft }
let leave = null

function signedIn(session) {
  setCsrf(session.csrf)
  document.getElementById('nav').hidden = false
  // Signed in by a client certificate: the browser keeps presenting it, so there is no sign-out.
  document.getElementById('logout').hidden = session.via === 'certificate'
  document.getElementById('who').textContent = `signed in (${session.who})`
}

function signedOut() {
  setCsrf(null)
  document.getElementById('nav').hidden = true
  document.getElementById('logout').hidden = true
  document.getElementById('who').textContent = ''
}

function showLogin(message) {
  signedOut()
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message ?? '')
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true })
  const form = h('form', { id: 'login', class: 'card' },
    h('label', { for: 'token' }, 'Admin token'), input, h('button', { type: 'submit' }, 'Sign in'), error)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      signedIn(await post('login', { token: input.value }))
      input.value = ''
      if (!location.hash) location.hash = '#overview'
      await route()
    } catch (err) {
      error.textContent = err.message
      input.focus()
    }
  })
  page('Sign in', h('p', {}, 'Sign in with the admin token from the gateway config (admin.token).'), form)
  input.focus()
}

async function route() {
  if (leave) leave()
  leave = null
  const name = location.hash.slice(1) || 'overview'
  // The hash is anyone's link: only the table's own names (PAGES['constructor'] is Object).
  const show = Object.hasOwn(PAGES, name) ? PAGES[name] : PAGES.overview
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  try {
    leave = (await show()) ?? null
    document.title = `${document.querySelector('h1')?.textContent ?? 'Console'} · mtls-gateway`
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin(err.message === 'sign in to the console first' ? '' : err.message)
    page('Error', h('p', { class: 'error', role: 'alert' }, err.message))
  }
}

// A sign-out the server did not confirm (a 503 when the store did not take it): its message
// says what holds, so show it, on the login form when this browser no longer has a session.
async function signOutFailed(err) {
  try {
    signedIn(await get('session'))
  } catch (again) {
    if (again instanceof ApiError && again.status === 401) return showLogin(err.message)
  }
  page('Error', h('p', { class: 'error', role: 'alert' }, err.message))
}

async function start() {
  document.getElementById('logout').addEventListener('click', async () => {
    if (leave) leave()
    leave = null
    try {
      await post('logout')
    } catch (err) {
      return signOutFailed(err)
    }
    showLogin('Signed out.')
  })
  window.addEventListener('hashchange', () => void route())
  try {
    signedIn(await get('session'))
    await route()
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin(err.message === 'sign in to the console first' ? '' : err.message)
    else page('Error', h('p', { class: 'error', role: 'alert' }, err.message))
  }
}

void start()
