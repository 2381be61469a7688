// Overview: config and reload state (with Reload), draining, workers, store, live charts (uPlot, served from the package).
import uPlot from './vendor/uPlot.esm.js'
import { get, post } from './api.js'
import { facts, h, page, time } from './dom.js'

function chart(title, series, color) {
  const box = h('figure', { class: 'chart' }, h('figcaption', {}, title))
  const opts = {
    width: 420,
    height: 160,
    legend: { show: false },
    // The last six minutes (what the gateway keeps), whatever the samples span.
    scales: { x: { time: true, range: () => [Date.now() / 1000 - 360, Date.now() / 1000] }, y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.25))] } },
    series: [{}, { label: title, stroke: color, width: 2 }],
    axes: [{}, { size: 50 }],
  }
  const plot = new uPlot(opts, series, box)
  plot.root.setAttribute('role', 'img')
  plot.root.setAttribute('aria-label', `${title}, last minutes`)
  return { box, set: (data) => plot.setData(data) }
}

function seriesOf(points, key) {
  return [points.map((p) => p.at / 1000), points.map((p) => p[key])]
}

function reloadText(r) {
  if (!r) return 'none since start'
  const when = `${time(r.at)} (${r.trigger})`
  return r.result.ok ? `ok at ${when}: ${r.result.endpoints} endpoint(s)` : `FAILED at ${when}`
}

export async function showOverview() {
  const data = await get('overview')
  const status = h('p', { id: 'reload-status', role: 'status', 'aria-live': 'polite' })
  const problems = h('ul', { id: 'reload-problems', class: 'problems' })
  const showProblems = (r) => problems.replaceChildren(...(r && !r.result.ok ? r.result.problems.map((p) => h('li', {}, p)) : []))
  const reload = h('button', { type: 'button', id: 'reload' }, 'Reload config')
  const requests = chart('Requests per second', seriesOf(data.series, 'requests'), '#1a5fb4')
  const errors = chart('Errors per second (4xx and 5xx)', seriesOf(data.series, 'errors'), '#a51d2d')
  const summary = h('div', { id: 'overview-facts' })
  const render = (d) => {
    summary.replaceChildren(facts([
      ['Config file', d.configFile],
      ['Loaded at', time(d.loadedAt)],
      ['Last reload', h('span', { id: 'last-reload', class: d.lastReload && !d.lastReload.result.ok ? 'error' : '' }, reloadText(d.lastReload))],
      ['Draining', d.draining ? 'yes' : 'no'],
      ['Ready', d.ready ? (d.readyNotes?.length ? `yes, but: ${d.readyNotes.join('; ')}` : 'yes') : `no: ${d.notReady.join('; ')}`],
      ['Workers', h('span', { id: 'workers' }, String(d.workers))],
      ['Store', d.store.kind === 'none' ? 'none' : `${d.store.kind}: ${d.store.up ? 'up' : `DOWN (${d.store.error})`}`],
      ['Requests since start', h('span', { id: 'total-requests' }, String(d.totals.requests))],
      ['Errors since start', String(d.totals.errors)],
    ]))
    showProblems(d.lastReload)
    requests.set(seriesOf(d.series, 'requests'))
    errors.set(seriesOf(d.series, 'errors'))
  }
  reload.addEventListener('click', async () => {
    reload.disabled = true
    status.textContent = 'Reloading…'
    try {
      const r = await post('reload')
      status.textContent = r.ok ? `Reload succeeded: ${r.endpoints} endpoint(s).` : 'Reload failed; the last good config stays in force.'
      render(await get('overview'))
    } catch (err) {
      status.textContent = err.message
    } finally {
      reload.disabled = false
    }
  })
  page('Overview', summary, h('div', { class: 'actions' }, reload, status), problems, h('div', { class: 'charts' }, requests.box, errors.box))
  render(data)
  const timer = setInterval(async () => {
    try {
      render(await get('overview'))
    } catch {
      // the next tick tries again; a 401 shows on the next navigation
    }
  }, 5000)
  return () => clearInterval(timer)
}
