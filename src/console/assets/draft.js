// Validate a draft: paste YAML, get exactly `check`'s problems at their lines and what a reload would change.
import { post } from './api.js'
import { h, page } from './dom.js'

function numbered(yaml, problems) {
  const bad = new Map()
  for (const p of problems) if (p.inDraft) bad.set(p.line, [...(bad.get(p.line) ?? []), `${p.key}: ${p.msg}`])
  return h('ol', { class: 'draft-lines', 'aria-label': 'Draft with problem lines marked' }, yaml.split('\n').map((line, i) => {
    const why = bad.get(i + 1)
    return h('li', { class: why ? 'bad' : '', 'data-line': String(i + 1), title: why ? why.join('\n') : undefined },
      h('code', {}, line || ' '), why ? h('span', { class: 'why' }, ` ← ${why.join('; ')}`) : null)
  }))
}

function changes(c) {
  const list = (title, names) => h('li', {}, `${title}: ${names.length ? names.join(', ') : 'none'}`)
  return h('section', { id: 'draft-changes', 'aria-labelledby': 'changes-title' }, h('h2', { id: 'changes-title' }, 'What a reload would change'),
    h('ul', {}, list('Endpoints added', c.added), list('Endpoints removed', c.removed), list('Endpoints changed', c.changed),
      c.restartNeeded.length ? h('li', { class: 'warn' }, `Needs a restart: ${c.restartNeeded.join(', ')}`) : null))
}

export async function showDraft() {
  const text = h('textarea', { id: 'draft-yaml', rows: '18', spellcheck: 'false' })
  const result = h('div', { id: 'draft-result', 'aria-live': 'polite' })
  const form = h('form', { id: 'draft-form' },
    h('label', { for: 'draft-yaml' }, 'Draft config (YAML). It is checked like the config file, never written.'), text,
    h('button', { type: 'submit' }, 'Validate'))
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      const r = await post('draft', { yaml: text.value })
      const verdict = h('p', { id: 'draft-verdict', class: r.ok ? 'ok' : 'error' }, r.ok ? 'The draft is valid.' : `${r.problems.length} problem(s), as check reports them:`)
      const problems = h('ul', { id: 'draft-problems', class: 'problems' }, r.problems.map((p) => h('li', { 'data-line': String(p.line) }, p.text)))
      result.replaceChildren(verdict, problems, r.changes ? changes(r.changes) : '', numbered(text.value, r.problems))
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message))
    }
  })
  page('Validate a draft', form, result)
}
