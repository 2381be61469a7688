// Validate a draft: paste YAML, get exactly `check`'s problems and warnings at their lines and what a reload would change.
import { post } from './api.js'
import { h, page } from './dom.js'

function numbered(yaml, problems, warnings) {
  const marks = new Map()
  const mark = (list, kind) => {
    for (const p of list) if (p.inDraft) marks.set(p.line, { kind: marks.get(p.line)?.kind === 'bad' ? 'bad' : kind, why: [...(marks.get(p.line)?.why ?? []), `${p.key}: ${p.msg}`] })
  }
  mark(problems, 'bad')
  mark(warnings, 'warned')
  return h('ol', { class: 'draft-lines', 'aria-label': 'Draft with problem and warning lines marked' }, yaml.split('\n').map((line, i) => {
    const m = marks.get(i + 1)
    return h('li', { class: m ? m.kind : '', 'data-line': String(i + 1), title: m ? m.why.join('\n') : undefined },
      h('code', {}, line || ' '), m ? h('span', { class: 'why' }, ` ← ${m.why.join('; ')}`) : null)
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
      // check's warnings: printed after its problems, never making the draft invalid.
      const warnings = r.warnings ?? []
      const warned = warnings.length ? h('ul', { id: 'draft-warnings', class: 'problems warn' }, warnings.map((w) => h('li', { 'data-line': String(w.line) }, w.text))) : ''
      result.replaceChildren(verdict, problems, warned, r.changes ? changes(r.changes) : '', numbered(text.value, r.problems, warnings))
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message))
    }
  })
  page('Validate a draft', form, result)
}
