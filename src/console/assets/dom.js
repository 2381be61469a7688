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
