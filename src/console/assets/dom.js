// Builds DOM nodes from data with textContent only: nothing from the server is parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

export function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—'
}

export function rate(n) {
  return n === undefined ? '—' : `${n.toFixed(n < 10 ? 2 : 0)}/s`
}

// A <dl> from [term, value] pairs.
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}

export function page(title, ...children) {
  const main = document.getElementById('main')
  main.replaceChildren(h('h1', {}, title), ...children.flat())
  return main
}

// A modal asking for a tenant: resolves to it, or undefined when cancelled.
export function askTenant(title) {
  return new Promise((resolve) => {
    const input = h('input', { id: 'tenant-input', name: 'tenant', required: true, autocomplete: 'off' })
    const form = h('form', { method: 'dialog' }, h('label', { for: 'tenant-input' }, 'Tenant'), input,
      h('div', { class: 'actions' }, h('button', { type: 'submit', value: 'run' }, 'Run test'), h('button', { type: 'button', value: 'cancel', class: 'secondary' }, 'Cancel')))
    const dialog = h('dialog', { id: 'tenant-dialog', 'aria-labelledby': 'tenant-title' }, h('h2', { id: 'tenant-title' }, title), form)
    form.querySelector('button[value=cancel]').addEventListener('click', () => dialog.close('cancel'))
    dialog.addEventListener('close', () => {
      const tenant = dialog.returnValue === 'run' ? input.value.trim() : ''
      dialog.remove()
      resolve(tenant === '' ? undefined : tenant)
    })
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      if (input.value.trim() !== '') dialog.close('run')
    })
    document.body.append(dialog)
    dialog.showModal()
    input.focus()
  })
}
