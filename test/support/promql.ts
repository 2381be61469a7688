/**
 * A small PromQL evaluator over Prometheus's own grammar (@prometheus-io/lezer-promql), for the
 * forms the chart's alert rules use: selectors with matchers, rate()/increase() over two scrapes
 * (extrapolated and divided by the range as Prometheus does),
 * absent(), time(), sum/min/max/count/avg by (…), `and`/`or`, arithmetic and comparison (one-to-one matching, NaN
 * compares false, as in Prometheus). Anything else throws, so a rule written in a new form
 * fails the test until this learns it (or a real Prometheus checks it).
 */
import { parser } from '@prometheus-io/lezer-promql'

type SyntaxNode = ReturnType<typeof parser.parse>['topNode']

/** One series: labels (with `__name__` while it is a raw selection) and a value. */
export interface Series {
  labels: Record<string, string>
  value: number
}

/** One scrape: its time (Unix seconds) and samples (`name` + labels + value). */
export interface Scrape {
  at: number
  samples: readonly { name: string; labels: Record<string, string>; value: number }[]
}

type Value = { kind: 'scalar'; value: number } | { kind: 'vector'; series: Series[] }

const ARITHMETIC: Record<string, (a: number, b: number) => number> = { Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => a / b }
const COMPARISON: Record<string, (a: number, b: number) => boolean> = {
  Eql: (a, b) => a === b, Neq: (a, b) => a !== b, Lss: (a, b) => a < b, Gtr: (a, b) => a > b, Lte: (a, b) => a <= b, Gte: (a, b) => a >= b,
}
const AGGREGATE: Record<string, (v: number[]) => number> = {
  Sum: (v) => v.reduce((a, b) => a + b, 0), Min: (v) => Math.min(...v), Max: (v) => Math.max(...v), Count: (v) => v.length, Avg: (v) => v.reduce((a, b) => a + b, 0) / v.length,
}

const key = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== '__name__').sort())
const withoutName = ({ __name__: _, ...rest }: Record<string, string>): Record<string, string> => rest
// A label with an empty value is no label to Prometheus: its series and alerts lack it.
const nonEmpty = (labels: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''))
const children = (n: SyntaxNode): SyntaxNode[] => {
  const out: SyntaxNode[] = []
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c)
  return out
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }
/** The range of a matrix selector (`x[5m]`, `x[1h30m]`) in seconds. */
function windowSeconds(matrix: string): number {
  const range = /\[([^\]]+)\]$/.exec(matrix)?.[1] ?? ''
  const parts = [...range.matchAll(/(\d+)(ms|[smhdwy])/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== range) throw new Error(`a range the test evaluator does not read: ${matrix}`)
  return parts.reduce((n, p) => n + Number(p[1]) * (UNIT_SECONDS[p[2] as string] as number), 0)
}

/**
 * increase() (or, `perSecond`, rate()) as Prometheus 2 computes it at the later of two counter samples
 * `gap` seconds apart in a range of `window` seconds: the counted rise (a drop is a reset), extrapolated
 * towards the range's start by the time the counter took to rise from zero when that is under 1.1 gaps,
 * else by half a gap (the usual case: a 5 min rate over scrapes 30 s apart). Its ratio to the rise
 * does not depend on the gap then, so the live scrapes (taken moments apart) get the rate Prometheus
 * gets on them a scrape interval apart (alerts-promtool.ts). Operations in Prometheus's order, so a
 * rate on a threshold compares alike.
 */
function extrapolated(first: number, last: number, gap: number, window: number, perSecond: boolean): number {
  const rise = last >= first ? last - first : last
  if (gap <= 0) return rise
  // The evaluator reads both scrapes whatever the window (alerts-promtool.ts tells a window too short).
  let toStart = Math.max(0, window - gap)
  if (rise > 0 && first >= 0) toStart = Math.min(toStart, gap * (first / rise))
  const interval = gap + (toStart < gap * 1.1 ? toStart : gap / 2)
  const increase = rise * (interval / gap)
  return perSecond ? increase / window : increase
}

/** Evaluates `expr` at the later scrape; range functions compare it with the earlier one. */
export function evaluate(expr: string, [earlier, later]: readonly [Scrape, Scrape]): Value {
  const text = (n: SyntaxNode): string => expr.slice(n.from, n.to)
  const unsupported = (n: SyntaxNode): never => {
    throw new Error(`the test evaluator does not support ${n.name} in: ${text(n)}`)
  }
  const select = (vs: SyntaxNode, scrape: Scrape): Series[] => {
    const name = vs.getChild('Identifier')
    const matchers = vs.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []
    const tests = matchers.map((m) => {
      const label = text(m.getChild('LabelName') as SyntaxNode)
      const op = (m.getChild('MatchOp')?.firstChild as SyntaxNode).name
      const want = JSON.parse(text(m.getChild('StringLiteral') as SyntaxNode)) as string
      const re = new RegExp(`^(?:${want})$`)
      return (l: Record<string, string>): boolean => {
        const have = l[label] ?? ''
        return op === 'EqlSingle' ? have === want : op === 'Neq' ? have !== want : op === 'EqlRegex' ? re.test(have) : op === 'NeqRegex' ? !re.test(have) : unsupported(m)
      }
    })
    return scrape.samples
      .filter((s) => name === null || s.name === text(name))
      .map((s) => ({ labels: { __name__: s.name, ...nonEmpty(s.labels) }, value: s.value }))
      .filter((s) => tests.every((t) => t(s.labels)))
  }
  const range = (fn: string, arg: SyntaxNode): Value => {
    if (arg.name !== 'MatrixSelector') return unsupported(arg)
    const vs = arg.getChild('VectorSelector') as SyntaxNode
    const window = windowSeconds(text(arg))
    const before = new Map(select(vs, earlier).map((s) => [key(s.labels), s.value]))
    // A series needs two samples in the range; a counter that went down was reset.
    const series = select(vs, later).flatMap((s) => {
      const v0 = before.get(key(s.labels))
      if (v0 === undefined) return []
      return [{ labels: withoutName(s.labels), value: extrapolated(v0, s.value, later.at - earlier.at, window, fn === 'Rate') }]
    })
    return { kind: 'vector', series }
  }
  // min_over_time / max_over_time: the range holds both scrapes' samples of a series (the later one alone when it is new).
  const overTime = (pick: (v: number[]) => number, arg: SyntaxNode): Value => {
    if (arg.name !== 'MatrixSelector') return unsupported(arg)
    const vs = arg.getChild('VectorSelector') as SyntaxNode
    const before = new Map(select(vs, earlier).map((s) => [key(s.labels), s.value]))
    const series = select(vs, later).map((s) => {
      const v0 = before.get(key(s.labels))
      return { labels: withoutName(s.labels), value: pick(v0 === undefined ? [s.value] : [v0, s.value]) }
    })
    return { kind: 'vector', series }
  }
  const binary = (n: SyntaxNode): Value => {
    const [lhs, op, rhs, ...rest] = children(n)
    if (!lhs || !op || !rhs || rest.length > 0) return unsupported(n)
    const a = ev(lhs)
    const b = ev(rhs)
    // `or`: every series of the left, and those of the right whose labels the left has not.
    if (op.name === 'Or') {
      if (a.kind !== 'vector' || b.kind !== 'vector') return unsupported(n)
      const left = new Set(a.series.map((s) => key(s.labels)))
      return { kind: 'vector', series: [...a.series, ...b.series.filter((s) => !left.has(key(s.labels)))] }
    }
    // `and`: the series of the left whose labels the right has too, with the left's values.
    if (op.name === 'And') {
      if (a.kind !== 'vector' || b.kind !== 'vector') return unsupported(n)
      const right = new Set(b.series.map((s) => key(s.labels)))
      return { kind: 'vector', series: a.series.filter((s) => right.has(key(s.labels))) }
    }
    const arith = ARITHMETIC[op.name]
    const cmp = COMPARISON[op.name]
    if (!arith && !cmp) return unsupported(op)
    if (a.kind === 'scalar' && b.kind === 'scalar') return arith ? { kind: 'scalar', value: arith(a.value, b.value) } : unsupported(n)
    const pair = (x: number, y: number, labels: Record<string, string>): Series[] => {
      if (arith) return [{ labels: withoutName(labels), value: arith(x, y) }]
      return (cmp as (p: number, q: number) => boolean)(x, y) ? [{ labels, value: x }] : []
    }
    if (a.kind === 'vector' && b.kind === 'scalar') return { kind: 'vector', series: a.series.flatMap((s) => pair(s.value, b.value, s.labels)) }
    if (a.kind === 'scalar' && b.kind === 'vector') return { kind: 'vector', series: b.series.flatMap((s) => pair(a.value, s.value, s.labels)) }
    const right = new Map((b as { series: Series[] }).series.map((s) => [key(s.labels), s.value]))
    return { kind: 'vector', series: (a as { series: Series[] }).series.flatMap((s) => (right.has(key(s.labels)) ? pair(s.value, right.get(key(s.labels)) as number, s.labels) : [])) }
  }
  const aggregate = (n: SyntaxNode): Value => {
    const op = n.getChild('AggregateOp')?.firstChild as SyntaxNode
    const modifier = n.getChild('AggregateModifier')
    if (!AGGREGATE[op.name] || (modifier && !modifier.getChild('By'))) return unsupported(n)
    const by = modifier?.getChild('GroupingLabels')?.getChildren('LabelName').map(text) ?? []
    const inner = ev(n.getChild('FunctionCallBody')?.firstChild as SyntaxNode)
    if (inner.kind !== 'vector') return unsupported(n)
    const groups = new Map<string, { labels: Record<string, string>; values: number[] }>()
    for (const s of inner.series) {
      const labels = Object.fromEntries(by.flatMap((l) => (s.labels[l] === undefined ? [] : [[l, s.labels[l] as string]])))
      const g = groups.get(key(labels)) ?? { labels, values: [] }
      g.values.push(s.value)
      groups.set(key(labels), g)
    }
    return { kind: 'vector', series: [...groups.values()].map((g) => ({ labels: g.labels, value: (AGGREGATE[op.name] as (v: number[]) => number)(g.values) })) }
  }
  // absent(v): one series of value 1 (labelled by v's equality matchers) when v selects nothing.
  const absent = (arg: SyntaxNode): Value => {
    if (arg.name !== 'VectorSelector') return unsupported(arg)
    if (select(arg, later).length > 0) return { kind: 'vector', series: [] }
    const equal = (arg.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []).filter((m) => m.getChild('MatchOp')?.firstChild?.name === 'EqlSingle')
    const labels = Object.fromEntries(equal.map((m) => [text(m.getChild('LabelName') as SyntaxNode), JSON.parse(text(m.getChild('StringLiteral') as SyntaxNode)) as string]))
    return { kind: 'vector', series: [{ labels: nonEmpty(labels), value: 1 }] }
  }
  const ev = (n: SyntaxNode): Value => {
    switch (n.name) {
      case 'PromQL':
      case 'ParenExpr':
        return ev(children(n).find((c) => c.name !== '(' && c.name !== ')') as SyntaxNode)
      case 'NumberDurationLiteral':
        return { kind: 'scalar', value: Number(text(n)) }
      case 'VectorSelector':
        return { kind: 'vector', series: select(n, later) }
      case 'AggregateExpr':
        return aggregate(n)
      case 'BinaryExpr':
        return binary(n)
      case 'FunctionCall': {
        const fn = (n.getChild('FunctionIdentifier')?.firstChild as SyntaxNode).name
        if (fn === 'Time') return { kind: 'scalar', value: later.at }
        if (fn === 'Rate' || fn === 'Increase') return range(fn, n.getChild('FunctionCallBody')?.firstChild as SyntaxNode)
        if (fn === 'Absent') return absent(n.getChild('FunctionCallBody')?.firstChild as SyntaxNode)
        if (fn === 'MinOverTime' || fn === 'MaxOverTime') return overTime(fn === 'MinOverTime' ? (v) => Math.min(...v) : (v) => Math.max(...v), n.getChild('FunctionCallBody')?.firstChild as SyntaxNode)
        return unsupported(n)
      }
      default:
        return unsupported(n)
    }
  }
  const tree = parser.parse(expr)
  let error: SyntaxNode | undefined
  tree.iterate({ enter: (c) => void (c.type.isError && (error ??= c.node)) })
  if (error) throw new Error(`PromQL syntax error at ${error.from}: ${expr}`)
  return ev(tree.topNode)
}

/** The series an alert expression yields (an alert fires for each); a scalar result is a mistake in a rule. */
export function firing(expr: string, scrapes: readonly [Scrape, Scrape]): Series[] {
  const v = evaluate(expr, scrapes)
  if (v.kind !== 'vector') throw new Error(`an alert expression must yield a vector: ${expr}`)
  return v.series
}
