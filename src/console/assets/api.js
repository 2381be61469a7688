// The console's JSON API: the CSRF token rides on every POST; a 401 sends the operator to the login form.
let csrf = null

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

export function setCsrf(token) {
  csrf = token
}

async function parse(res) {
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new ApiError(res.status, body.errors?.[0]?.msg ?? `HTTP ${res.status}`)
  return body
}

export async function get(name) {
  return parse(await fetch(`api/${name}`, { credentials: 'same-origin', headers: { accept: 'application/json' } }))
}

export async function post(name, body = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' }
  if (csrf) headers['x-csrf-token'] = csrf
  return parse(await fetch(`api/${name}`, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body) }))
}
