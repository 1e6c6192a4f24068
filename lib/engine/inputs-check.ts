import type { ZodType } from 'zod'
import type { Problem, Workflow } from './load.ts'
import type { StepDefinition } from './step.ts'

/** A zod object schema's keys, or undefined for any other schema (then nothing is checked). */
function shapeOf(schema: ZodType): Record<string, ZodType> | undefined {
  const s = schema as unknown as { def?: { type?: string }; shape?: Record<string, ZodType> }
  return s.def?.type === 'object' && s.shape && typeof s.shape === 'object' ? s.shape : undefined
}

function hasTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${{')
  if (Array.isArray(value)) return value.some(hasTemplate)
  if (value && typeof value === 'object') return Object.values(value).some(hasTemplate)
  return false
}

/**
 * Checks each node's `with` against its step's `inputs`, before anything runs: every key must
 * be an input of the step, every required input must be given, and literal values (without
 * `${{ }}`) must fit. Templated values can only be checked once they are resolved, at run time.
 */
export function checkNodeInputs(wf: Workflow, steps: ReadonlyMap<string, StepDefinition>): Problem[] {
  const problems: Problem[] = []
  const at = (path: (string | number)[], message: string, key?: string) => problems.push({ file: wf.file, ...wf.position(path, key), path: path.join('.'), message })
  for (const n of wf.nodes) {
    const step = steps.get(n.spec.run)
    const shape = step && shapeOf(step.inputs)
    if (!shape) continue
    const base = [n.isFinally ? 'finally' : 'nodes', n.id]
    const given = n.spec.with ?? {}
    const valid = Object.keys(shape)
    for (const [key, value] of Object.entries(given)) {
      if (!Object.hasOwn(shape, key)) {
        at([...base, 'with', key], `unknown input "${key}" of task ${n.spec.run} (its inputs: ${valid.join(', ') || 'none'})`, key)
        continue
      }
      if (hasTemplate(value)) continue
      const r = shape[key].safeParse(value)
      if (!r.success) {
        const why = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message).join('; ')
        at([...base, 'with', key], `input "${key}" of task ${n.spec.run}: ${why}`)
      }
    }
    const missing = valid.filter((k) => !Object.hasOwn(given, k) && !shape[k].safeParse(undefined).success)
    if (missing.length) at([...base, 'with'], `task ${n.spec.run} needs input${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}`)
  }
  return problems
}
