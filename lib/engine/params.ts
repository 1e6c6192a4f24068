import type { ParamSpec } from './schema.ts'
import { durationProblem } from '../duration.ts'
import { didYouMean } from './suggest.ts'

/** Why `value` does not fit the param's type, or undefined when it does. */
export function checkParamValue(p: ParamSpec, value: unknown): string | undefined {
  const got = Array.isArray(value) ? 'list' : value === null ? 'null' : typeof value
  switch (p.type) {
    case 'string':
      return typeof value === 'string' ? enumProblem(p, value) : `must be a string, got ${got}`
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? numberProblem(p, value) : `must be a number, got ${got}`
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false, got ${got}`
    case 'duration':
      return typeof value === 'string' ? durationProblem(value, { min: rangeText(p.min), max: rangeText(p.max) }) : `must be a duration like 30s, 5m or 5d, got ${got}`
    case 'timestamp':
      return typeof value === 'string' ? timestampProblem(value) : `must be an RFC 3339 time, got ${got}`
    case 'list':
      return Array.isArray(value) ? undefined : `must be a list, got ${got}`
    case 'object':
      return value && typeof value === 'object' && !Array.isArray(value) ? undefined : `must be a map, got ${got}`
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i

/** A time that has happened, with a zone ('' means not given): a consent time, say. */
function timestampProblem(text: string): string | undefined {
  if (text === '') return undefined
  const t = Date.parse(text)
  if (!RFC3339.test(text) || Number.isNaN(t)) return `must be an RFC 3339 time with a zone, e.g. 2026-12-01T09:12:00Z, got "${text}"`
  // A minute of slack for clock skew between the operator's watch and this host.
  if (t > Date.now() + 60_000) return `must not be in the future, got ${text} (now ${new Date().toISOString()})`
  return undefined
}

/** A string param with `enum`: one of its values, or the list and the closest one. */
function enumProblem(p: ParamSpec, s: string): string | undefined {
  if (!p.enum || p.enum.includes(s)) return undefined
  return `must be one of ${p.enum.join(', ')}, got ${JSON.stringify(s)}${didYouMean(s, p.enum)}`
}

const rangeText = (v: number | string | undefined) => (v === undefined ? undefined : String(v))

/** Whole-number and min/max limits of a number param, named with the allowed range. */
function numberProblem(p: ParamSpec, n: number): string | undefined {
  const min = typeof p.min === 'number' ? p.min : undefined
  const max = typeof p.max === 'number' ? p.max : undefined
  const range = min !== undefined || max !== undefined ? `; allowed: ${min ?? '-∞'} to ${max ?? '∞'}${p.integer ? ', whole numbers' : ''}` : ''
  if (p.integer && !Number.isInteger(n)) return `must be a whole number, got ${n}${range}`
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) return `${n} is out of range${range}`
  return undefined
}

/** Turns the text of `--set key=value` into the param's type. Lists and maps are JSON. */
export function coerceParam(p: ParamSpec, text: string): { value: unknown } | { error: string } {
  switch (p.type) {
    case 'string':
    case 'duration':
    case 'timestamp': {
      const err = checkParamValue(p, text)
      return err ? { error: err } : { value: text }
    }
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(text.trim())) return { error: `must be a number, got "${text}"` }
      const err = checkParamValue(p, Number(text))
      return err ? { error: err } : { value: Number(text) }
    }
    case 'boolean':
      if (/^(true|1|yes)$/i.test(text)) return { value: true }
      if (/^(false|0|no)$/i.test(text)) return { value: false }
      return { error: `must be true or false, got "${text}"` }
    case 'list':
    case 'object': {
      // JSON only: `--set targets=oops` must be an error, not the list ["oops"].
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch {
        const example = p.type === 'list' ? `'["a","b"]'` : `'{"k":"v"}'`
        return { error: `must be JSON (a ${p.type === 'list' ? 'list' : 'map'}, e.g. ${example}; quote it for the shell), got ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text)}` }
      }
      const err = checkParamValue(p, v)
      return err ? { error: err } : { value: v }
    }
  }
}

export interface ParamSources {
  /** `--set` pairs, in order (last wins). */
  set: Array<[string, string]>
  env: NodeJS.ProcessEnv
  /** Values recorded by the run being continued; they replace defaults (secret params excepted). */
  base?: Record<string, unknown>
}

/** Env fallback for a param: CREDFLOW_SET_<NAME> with the camelCase name upper-cased (tokenFile -> TOKENFILE). */
export function paramEnvName(name: string): string {
  return 'CREDFLOW_SET_' + name.toUpperCase()
}

/** Defaults, then env, then --set. Returns values or a list of usage errors. */
export function resolveParams(
  specs: Record<string, ParamSpec>,
  src: ParamSources,
): { values: Record<string, unknown> } | { errors: string[] } {
  const values: Record<string, unknown> = {}
  const errors: string[] = []
  for (const [name, p] of Object.entries(specs)) if (p.default !== undefined) values[name] = structuredClone(p.default)
  for (const [name, p] of Object.entries(specs)) {
    const v = src.base?.[name]
    if (v !== undefined && !p.secret && !checkParamValue(p, v)) values[name] = structuredClone(v)
  }
  for (const [name, p] of Object.entries(specs)) {
    const env = src.env[paramEnvName(name)]
    if (env !== undefined && env !== '') {
      const r = coerceParam(p, env)
      if ('error' in r) errors.push(`${paramEnvName(name)}: ${name} ${r.error}`)
      else values[name] = r.value
    }
  }
  for (const [name, text] of src.set) {
    const p = specs[name]
    if (!p) {
      errors.push(`--set ${name}: unknown param (known: ${Object.keys(specs).join(', ') || 'none'})`)
      continue
    }
    const r = coerceParam(p, text)
    if ('error' in r) errors.push(`--set ${name}: ${r.error}`)
    else values[name] = r.value
  }
  for (const [name, p] of Object.entries(specs)) {
    if (p.required && values[name] === undefined) errors.push(`param ${name} is required: pass --set ${name}=... or ${paramEnvName(name)}`)
  }
  return errors.length ? { errors } : { values }
}
