/**
 * `${{ ... }}` expressions in `with` and `when`. Deliberately tiny: references
 * (`params.x`, `needs.node.outputs.key`, `item`, `item.field`), literals, `!`, `==`, `!=`.
 * A string that is exactly one expression keeps the value's type (a list stays a list).
 */
export type Ref =
  | { kind: 'param'; name: string; path: string[] }
  | { kind: 'output'; node: string; key: string; path: string[] }
  | { kind: 'item'; path: string[] }

type Expr =
  | { t: 'ref'; ref: Ref; text: string }
  | { t: 'lit'; value: unknown }
  | { t: 'not'; e: Expr }
  | { t: 'cmp'; op: '==' | '!='; a: Expr; b: Expr }

export class TemplateError extends Error {
  override name = 'TemplateError'
}

export interface Scope {
  params: Record<string, unknown>
  outputs: (node: string) => Record<string, unknown> | undefined
  item?: unknown
}

const EXPR = /\$\{\{\s*(.*?)\s*\}\}/g

function parseRef(text: string): Ref {
  const parts = text.split('.')
  if (parts.some((p) => !/^[A-Za-z_][\w-]*$|^\d+$/.test(p))) throw new TemplateError(`"${text}" is not a valid reference`)
  const [head, ...rest] = parts
  if (head === 'params') {
    if (rest.length < 1) throw new TemplateError(`"${text}": name a param, e.g. params.account`)
    return { kind: 'param', name: rest[0], path: rest.slice(1) }
  }
  if (head === 'needs') {
    if (rest.length < 3 || rest[1] !== 'outputs') throw new TemplateError(`"${text}": write needs.<node>.outputs.<key>`)
    return { kind: 'output', node: rest[0], key: rest[2], path: rest.slice(3) }
  }
  if (head === 'item') return { kind: 'item', path: rest }
  throw new TemplateError(`"${text}": references start with params., needs. or item`)
}

function parseOperand(text: string): Expr {
  const s = text.trim()
  if (s.startsWith('!')) return { t: 'not', e: parseOperand(s.slice(1)) }
  if (/^'.*'$|^".*"$/.test(s)) return { t: 'lit', value: s.slice(1, -1) }
  if (/^-?\d+(\.\d+)?$/.test(s)) return { t: 'lit', value: Number(s) }
  if (s === 'true' || s === 'false') return { t: 'lit', value: s === 'true' }
  if (s === 'null') return { t: 'lit', value: null }
  return { t: 'ref', ref: parseRef(s), text: s }
}

export function parseExpression(text: string): Expr {
  const m = /^(.*?)\s*(==|!=)\s*(.*)$/.exec(text)
  if (m) return { t: 'cmp', op: m[2] as '==' | '!=', a: parseOperand(m[1]), b: parseOperand(m[3]) }
  if (text.trim() === '') throw new TemplateError('empty expression')
  return parseOperand(text)
}

function refsOfExpr(e: Expr, out: Ref[]): void {
  if (e.t === 'ref') out.push(e.ref)
  else if (e.t === 'not') refsOfExpr(e.e, out)
  else if (e.t === 'cmp') (refsOfExpr(e.a, out), refsOfExpr(e.b, out))
}

/** Every reference inside a value (strings nested in lists and maps). Throws TemplateError on bad syntax. */
export function referencesOf(value: unknown): Ref[] {
  const out: Ref[] = []
  walkStrings(value, (s) => {
    if (s.includes('${{') && !/\$\{\{[\s\S]*?\}\}/.test(s)) throw new TemplateError(`unclosed "\${{" in "${s}"`)
    for (const m of s.matchAll(EXPR)) refsOfExpr(parseExpression(m[1]), out)
  })
  return out
}

/** `when:` accepts `${{ expr }}` or a bare expression. */
export function conditionExpression(when: string): string {
  const m = /^\s*\$\{\{\s*(.*?)\s*\}\}\s*$/.exec(when)
  return m ? m[1] : when
}

function walkStrings(value: unknown, fn: (s: string) => void): void {
  if (typeof value === 'string') fn(value)
  else if (Array.isArray(value)) value.forEach((v) => walkStrings(v, fn))
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => walkStrings(v, fn))
}

function dig(value: unknown, path: string[], text: string): unknown {
  let v = value
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) throw new TemplateError(`"${text}" is undefined`)
    v = (v as Record<string, unknown>)[p]
  }
  return v
}

export class MissingOutputError extends TemplateError {
  readonly node: string
  readonly key: string
  constructor(node: string, key: string) {
    super(`needs output "${key}" of ${node}, which is not known yet`)
    this.node = node
    this.key = key
  }
}

function evalExpr(e: Expr, scope: Scope): unknown {
  switch (e.t) {
    case 'lit':
      return e.value
    case 'not':
      return !evalExpr(e.e, scope)
    case 'cmp': {
      const eq = JSON.stringify(evalExpr(e.a, scope)) === JSON.stringify(evalExpr(e.b, scope))
      return e.op === '==' ? eq : !eq
    }
    case 'ref': {
      const r = e.ref
      if (r.kind === 'param') {
        if (!Object.hasOwn(scope.params, r.name)) throw new TemplateError(`"${e.text}": no param "${r.name}"`)
        return dig(scope.params[r.name], r.path, e.text)
      }
      if (r.kind === 'item') {
        if (scope.item === undefined) throw new TemplateError(`"${e.text}" is only defined in a forEach node`)
        return dig(scope.item, r.path, e.text)
      }
      const outs = scope.outputs(r.node)
      if (!outs || !Object.hasOwn(outs, r.key)) throw new MissingOutputError(r.node, r.key)
      return dig(outs[r.key], r.path, e.text)
    }
  }
}

/** Resolves every template in a value; whole-string expressions keep their type. */
export function resolveValue(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{\{((?:(?!\}\})[\s\S])*)\}\}$/.exec(value)
    if (whole) return evalExpr(parseExpression(whole[1].trim()), scope)
    return value.replace(EXPR, (_, expr: string) => {
      const v = evalExpr(parseExpression(expr), scope)
      return typeof v === 'string' ? v : JSON.stringify(v)
    })
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, scope))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, scope)]))
  }
  return value
}

export function evaluateCondition(when: string, scope: Scope): boolean {
  return Boolean(evalExpr(parseExpression(conditionExpression(when)), scope))
}
